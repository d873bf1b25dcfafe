package egress

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/clemhq/clem/shared/testutil/users"
)

// The test binary doubles as the probe an agent runs: re-executed as a
// contained user inside the test's namespace, it tries each connection it
// is given and prints what happened, so the kernel judges a real uid.
const (
	probeEnv = "CLEM_EGRESS_PROBE"       // JSON []probe: try each, print JSON []string
	serveEnv = "CLEM_EGRESS_PROBE_SERVE" // listen on 127.0.0.1, echo one line back
	loopEnv  = "CLEM_EGRESS_PROBE_LOOP"  // dial this address until stdin closes
	squatEnv = "CLEM_EGRESS_PROBE_SQUAT" // JSON []probe: listen on each until stdin closes
)

func TestMain(m *testing.M) {
	switch {
	case os.Getenv(probeEnv) != "":
		os.Exit(probeMain(os.Getenv(probeEnv)))
	case os.Getenv(serveEnv) != "":
		os.Exit(serveMain())
	case os.Getenv(loopEnv) != "":
		os.Exit(loopMain(os.Getenv(loopEnv)))
	case os.Getenv(squatEnv) != "":
		os.Exit(squatMain(os.Getenv(squatEnv)))
	}
	os.Exit(m.Run())
}

// probe is one attempt: proto is tcp, udp, icmp4 or icmp6.
type probe struct {
	Proto string `json:"proto"`
	Addr  string `json:"addr"`           // host:port, or a bare address for icmp
	From  string `json:"from,omitempty"` // tcp: the local host:port to dial from
}

func (p probe) String() string { return p.Proto + " " + p.Addr }

func probeMain(arg string) int {
	var ps []probe
	if err := json.Unmarshal([]byte(arg), &ps); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	// In parallel: the refused ones end in their timeouts, so together
	// they cost one. The process is in one namespace, any thread will do.
	out := make([]string, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() { out[i] = try(p) })
	}
	wg.Wait()
	json.NewEncoder(os.Stdout).Encode(out)
	return 0
}

// try returns "ok:<what the listener said>", an errno name such as
// ECONNREFUSED or EPERM, "timeout", or another error's text.
func try(p probe) string {
	switch p.Proto {
	case "tcp":
		d := net.Dialer{Timeout: 3 * time.Second}
		if p.From != "" {
			from, err := net.ResolveTCPAddr("tcp", p.From)
			if err != nil {
				return err.Error()
			}
			d.LocalAddr = from
		}
		c, err := d.Dial("tcp", p.Addr)
		if err != nil {
			return errWord(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return "connected, then " + errWord(err)
		}
		return "ok:" + strings.TrimSpace(line)
	case "udp":
		c, err := net.Dial("udp", p.Addr)
		if err != nil {
			return errWord(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("ping")); err != nil {
			return errWord(err)
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		b := make([]byte, 512)
		n, err := c.Read(b)
		if err != nil {
			return errWord(err)
		}
		return "ok:" + string(b[:n])
	case "icmp4", "icmp6":
		return ping(p)
	}
	return "unknown probe " + p.Proto
}

// ping sends one echo request on an unprivileged ICMP socket (allowed by
// net.ipv4.ping_group_range), so a refusal can only come from the rules.
func ping(p probe) string {
	addr := netip.MustParseAddr(p.Addr)
	family, proto, typ := unix.AF_INET6, unix.IPPROTO_ICMPV6, byte(128)
	var sa unix.Sockaddr = &unix.SockaddrInet6{Addr: addr.As16()}
	if p.Proto == "icmp4" {
		family, proto, typ = unix.AF_INET, unix.IPPROTO_ICMP, 8
		sa = &unix.SockaddrInet4{Addr: addr.As4()}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return "socket: " + errWord(err)
	}
	defer unix.Close(fd)
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 2})
	if err := unix.Connect(fd, sa); err != nil {
		return errWord(err)
	}
	// type, code, checksum and id (the kernel fills them in), sequence 1.
	if _, err := unix.Write(fd, []byte{typ, 0, 0, 0, 0, 0, 0, 1, 'p', 'i', 'n', 'g'}); err != nil {
		return errWord(err)
	}
	b := make([]byte, 512)
	n, err := unix.Read(fd, b)
	if err != nil {
		return errWord(err)
	}
	if n < 8 || (b[0] != 0 && b[0] != 129) {
		return fmt.Sprintf("unexpected reply % x", b[:n])
	}
	return "ok:echo reply"
}

func errWord(err error) string {
	var errno syscall.Errno
	var ne net.Error
	switch {
	case errors.As(err, &errno) && errno == unix.EAGAIN:
		return "timeout"
	case errors.As(err, &errno):
		return unix.ErrnoName(errno)
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF):
		return "EOF"
	}
	return err.Error()
}

func serveMain() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("listen:", errWord(err))
		return 1
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		return 1
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return 1
	}
	if _, err := io.WriteString(c, "echo:"+line); err != nil {
		return 1
	}
	return 0
}

// loopMain dials addr over and over until stdin closes, then prints how
// many attempts there were and how many connected.
func loopMain(addr string) int {
	stop := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(stop) }()
	var attempts, connected int
	for {
		select {
		case <-stop:
			fmt.Printf("%d %d\n", attempts, connected)
			return 0
		default:
		}
		attempts++
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			connected++
			c.Close()
		}
	}
}

// asUser prepares exe to run as u with only env set. Start it from the
// namespace's thread: the child inherits that thread's namespace.
func asUser(exe string, u users.User, env ...string) *exec.Cmd {
	cmd := exec.Command(exe)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID}}
	return cmd
}

// runProbes runs ps as u and returns each outcome by probe.
func runProbes(t *testing.T, exe string, u users.User, ps []probe) map[probe]string {
	t.Helper()
	arg, _ := json.Marshal(ps)
	cmd := asUser(exe, u, probeEnv+"="+string(arg))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("probes as %s: %v", u.Name, err)
	}
	var res []string
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(ps) {
		t.Fatalf("probes as %s: output %q: %v", u.Name, out, err)
	}
	m := map[probe]string{}
	for i, p := range ps {
		m[p] = res[i]
	}
	return m
}
