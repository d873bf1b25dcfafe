package confine

import (
	"errors"
	"fmt"
	"syscall"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"golang.org/x/sys/unix"
)

// refuseProtocols closes what Landlock's TCP rule does not see: it checks
// only sockets whose protocol is IPPROTO_TCP, so a Multipath TCP socket
// (IPPROTO_MPTCP; Linux 6.18 here) binds and listens on a block port
// unhindered, and its first subflow holds the port like any TCP socket:
// the daemon then fails with EADDRINUSE and plain TCP clients reach the
// squatter. So socket(2) with that protocol fails as on a host with
// net.mptcp.enabled=0 (ENOPROTOOPT; Go's net package and other MPTCP-aware
// programs fall back to TCP), and io_uring is refused as with
// kernel.io_uring_disabled=2 (EPERM), since its IORING_OP_SOCKET makes
// sockets without socket(2) and so past this filter.
//
// It returns why it could not, when a seccomp filter of the unit refused
// seccomp(2) (systemd's SystemCallFilter= without it). Compat (32-bit)
// system calls are left to the unit's SystemCallArchitectures=native.
//
// elastic/go-seccomp-bpf builds and loads the filter (arch check, x32
// refused, TSYNC so every thread of the runtime gets it) rather than
// hand-written BPF.
func refuseProtocols() (string, error) {
	f := seccomp.Filter{
		NoNewPrivs: true,
		Flag:       seccomp.FilterFlagTSync,
		Policy: seccomp.Policy{
			DefaultAction: seccomp.ActionAllow,
			Syscalls: []seccomp.SyscallGroup{
				{
					Action:             seccomp.ActionErrno | seccomp.Action(unix.ENOPROTOOPT),
					NamesWithCondtions: []seccomp.NameWithConditions{{Name: "socket", Conditions: protocolIs(unix.IPPROTO_MPTCP)}},
				},
				{
					Action: seccomp.ActionErrno | seccomp.Action(unix.EPERM),
					Names:  []string{"io_uring_setup", "io_uring_enter", "io_uring_register"},
				},
			},
		},
	}
	err := seccomp.LoadFilter(f)
	switch {
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		return "seccomp(2) refused (EPERM): Multipath TCP sockets can still bind the block; the unit's SystemCallFilter= must allow seccomp", nil
	case errors.Is(err, syscall.ENOSYS), errors.Is(err, syscall.EINVAL):
		return fmt.Sprintf("this kernel cannot load a seccomp filter (%v): Multipath TCP sockets can still bind the block", err), nil
	case err != nil:
		return "", fmt.Errorf("seccomp: %w", err)
	}
	return "", nil
}

// protocolIs matches socket(2)'s third argument (an int) equal to proto in
// its low 32 bits whatever the high ones hold: the kernel drops those, so
// an Equal on the 64-bit value would miss 1<<32|proto. The library's
// BitsSet is "any of these bits", hence one condition per set bit plus one
// for the bits that must be clear.
func protocolIs(proto uint32) seccomp.ArgumentConditions {
	const arg = 2
	var cs seccomp.ArgumentConditions
	for bit := uint32(1); bit != 0; bit <<= 1 {
		if proto&bit != 0 {
			cs = append(cs, seccomp.Condition{Argument: arg, Operation: seccomp.BitsSet, Value: uint64(bit)})
		}
	}
	return append(cs, seccomp.Condition{Argument: arg, Operation: seccomp.BitsNotSet, Value: uint64(^proto)})
}
