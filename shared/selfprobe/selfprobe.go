// Package selfprobe lets a daemon's health probe take the path every
// client's connection takes: the probe connects to the daemon's own
// listener, and the serving side, on the same accept loop that serves
// agents, recognises the connection, identifies its owner through the
// kernel exactly as it would an agent's, and hands the verdict back
// instead of serving it. A bare connect would pass while nothing accepts
// (the kernel completes handshakes into the backlog); this fails when the
// listener is gone, the accept loop is wedged or the identity lookup
// fails. pipelock, sidecar and coord import it.
//
// A probe's connection is known by its source address, bound and
// registered before the connect, so the serving side cannot see it first.
// The kernel gives an address and port to one socket at a time, and the
// owner must be the daemon's own uid, so no agent can pose as a probe.
package selfprobe

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// Expected are the probes in flight. The zero value is ready to use.
type Expected struct {
	n  atomic.Int32 // entries, so the serving side skips the lock when none
	mu sync.Mutex
	m  map[netip.AddrPort]chan error
}

// Take reports whether a connection from remote is a probe's; if it is,
// answer must be called once with the serving side's verdict (nil when it
// identified the connection as this process's).
func (e *Expected) Take(remote netip.AddrPort) (answer func(error), ok bool) {
	if e == nil || e.n.Load() == 0 {
		return nil, false
	}
	remote = unmap(remote)
	e.mu.Lock()
	ch, ok := e.m[remote]
	if ok {
		delete(e.m, remote)
		e.n.Add(-1)
	}
	e.mu.Unlock()
	if !ok {
		return nil, false
	}
	return func(err error) { ch <- err }, true
}

// TakeConn is Take for an accepted connection.
func (e *Expected) TakeConn(c net.Conn) (answer func(error), ok bool) {
	return e.Take(AddrPort(c.RemoteAddr()))
}

// Dial connects to target (an unspecified address means loopback) from a
// registered loopback address and waits for the serving side's verdict,
// or for ctx to end.
func (e *Expected) Dial(ctx context.Context, target netip.AddrPort) error {
	target = unmap(target)
	if ip := target.Addr(); ip.IsUnspecified() {
		lo := netip.AddrFrom4([4]byte{127, 0, 0, 1})
		if ip.Is6() {
			lo = netip.IPv6Loopback()
		}
		target = netip.AddrPortFrom(lo, target.Port())
	}
	verdict := make(chan error, 1)
	var self netip.AddrPort
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		if cerr := rc.Control(func(fd uintptr) { self, err = bindLoopback(int(fd), target.Addr()) }); cerr != nil {
			return cerr
		}
		if err == nil {
			e.add(self, verdict)
		}
		return err
	}}
	network := "tcp4"
	if !target.Addr().Is4() {
		network = "tcp6"
	}
	c, err := d.DialContext(ctx, network, target.String())
	defer e.remove(self)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", target, err)
	}
	defer c.Close()
	select {
	case err := <-verdict:
		return err
	case <-ctx.Done():
		return fmt.Errorf("connected to %s, but the serving loop did not accept and identify the connection: %w", target, ctx.Err())
	}
}

// Owner checks an identity lookup of a probe's connection: it must have
// worked and named this process's uid.
func Owner(uid uint32, err error) error {
	if err != nil {
		return fmt.Errorf("identity lookup (sock_diag) of the probe's own connection: %w", err)
	}
	if me := uint32(os.Geteuid()); uid != me {
		return fmt.Errorf("identity lookup (sock_diag) named uid %d as the owner of the probe's own connection, not this daemon's uid %d", uid, me)
	}
	return nil
}

func (e *Expected) add(a netip.AddrPort, ch chan error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[netip.AddrPort]chan error{}
	}
	e.m[a] = ch
	e.n.Add(1)
}

func (e *Expected) remove(a netip.AddrPort) {
	if !a.IsValid() {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.m[a]; ok {
		delete(e.m, a)
		e.n.Add(-1)
	}
}

// bindLoopback binds fd to an ephemeral port on the loopback address of
// ip's family and returns it.
func bindLoopback(fd int, ip netip.Addr) (netip.AddrPort, error) {
	var sa unix.Sockaddr = &unix.SockaddrInet4{Addr: ip.As4()}
	if !ip.Is4() {
		sa = &unix.SockaddrInet6{Addr: ip.As16()}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return netip.AddrPort{}, fmt.Errorf("bind the probe's socket: %w", err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bind the probe's socket: %w", err)
	}
	switch a := got.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)), nil
	case *unix.SockaddrInet6:
		return unmap(netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))), nil
	}
	return netip.AddrPort{}, fmt.Errorf("bind the probe's socket: unexpected address %T", got)
}

// AddrPort is a TCP address as a comparable key (IPv4 unmapped); the zero
// AddrPort for anything else.
func AddrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return unmap(t.AddrPort())
	}
	return netip.AddrPort{}
}

func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}
