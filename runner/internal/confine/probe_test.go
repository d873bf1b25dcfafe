package confine

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The port block the tests reserve, and ports around it; every test runs
// in a fresh network namespace, so all are free but listenPort.
const (
	first, last = 3128, 3159
	listenPort  = 3130 // root listens here: connect() must still reach it
	freePort    = 3131
)

var testPorts = Ports{First: first, Last: last}

// probe is one attempt a confined agent makes; run returns "ok" or the
// errno's name.
type probe struct {
	name string
	run  func() error
}

var probes = []probe{
	{"bind 127.0.0.1 first port of the block", func() error { return bindTCP(unix.AF_INET, 0, v4(first)) }},
	{"bind 127.0.0.1 last port of the block", func() error { return bindTCP(unix.AF_INET, 0, v4(last)) }},
	{"bind 0.0.0.0 in the block", func() error { return bindTCP(unix.AF_INET, 0, &unix.SockaddrInet4{Port: freePort}) }},
	{"bind [::] in the block", func() error { return bindTCP(unix.AF_INET6, 0, &unix.SockaddrInet6{Port: freePort}) }},
	{"bind [::1] in the block", func() error {
		return bindTCP(unix.AF_INET6, 0, &unix.SockaddrInet6{Port: freePort, Addr: [16]byte{15: 1}})
	}},
	{"bind 127.0.0.1 just below the block", func() error { return bindTCP(unix.AF_INET, 0, v4(first-1)) }},
	{"bind 127.0.0.1 just above the block", func() error { return bindTCP(unix.AF_INET, 0, v4(last+1)) }},
	{"bind 127.0.0.1 port 0", func() error { return bindTCP(unix.AF_INET, 0, v4(0)) }},
	{"bind [::] port 0", func() error { return bindTCP(unix.AF_INET6, 0, &unix.SockaddrInet6{}) }},
	{"connect 127.0.0.1 in the block", connectBlock},
	{"bind an MPTCP socket in the block", func() error { return bindTCP(unix.AF_INET, unix.IPPROTO_MPTCP, v4(freePort)) }},
	{"MPTCP socket, protocol with high bits set", mptcpHighBits},
	{"io_uring_setup", ioUringSetup},
}

func v4(port int) *unix.SockaddrInet4 {
	return &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
}

// bindTCP binds and listens, as a squatter would.
func bindTCP(family, proto int, sa unix.Sockaddr) error {
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, sa); err != nil {
		return err
	}
	return unix.Listen(fd, 1)
}

func connectBlock() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Connect(fd, v4(listenPort))
}

// mptcpHighBits asks for IPPROTO_MPTCP with garbage in the argument's high
// 32 bits, which the kernel drops: a filter comparing all 64 bits misses it.
func mptcpHighBits() error {
	fd, _, e := unix.RawSyscall(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 1<<32|unix.IPPROTO_MPTCP)
	if e != 0 {
		return e
	}
	defer unix.Close(int(fd))
	proto, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PROTOCOL)
	if err != nil {
		return err
	}
	if proto != unix.IPPROTO_MPTCP {
		return errors.New("not an MPTCP socket")
	}
	return nil
}

func ioUringSetup() error {
	var params [120]byte // struct io_uring_params, zeroed
	fd, _, e := unix.RawSyscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params)), 0)
	if e != 0 {
		return e
	}
	return unix.Close(int(fd))
}

// runProbes runs every probe here and now.
func runProbes() map[string]string {
	out := make(map[string]string, len(probes))
	for _, p := range probes {
		out[p.name] = errName(p.run())
	}
	return out
}

func errName(err error) string {
	var e unix.Errno
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &e):
		return unix.ErrnoName(e)
	}
	return err.Error()
}
