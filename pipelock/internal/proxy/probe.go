package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// The health probe checks what pipelock exists to do on the path a real
// client takes: it connects to each of pipelock's own listeners, and the
// serving side accepts that connection, starts its handler and looks the
// caller up with sock_diag exactly as it would an agent's, which must name
// pipelock's own uid. A closed listener, a squatter on the port, a wedged
// accept loop or a failing identity lookup each make it fail; a probe that
// is never answered fails when its ctx ends.

// probeSet holds the probes in flight by the probe socket's own address.
// The kernel gives a local address and port to one socket at a time, so a
// connection from that address is the probe's and no client can pose as
// one.
type probeSet struct {
	n  atomic.Int32 // entries, so connections skip the lock when none
	mu sync.Mutex
	m  map[netip.AddrPort]chan error
}

func (p *probeSet) add(a netip.AddrPort, ch chan error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[netip.AddrPort]chan error{}
	}
	p.m[a] = ch
	p.n.Add(1)
}

func (p *probeSet) remove(a netip.AddrPort) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.m[a]; ok {
		delete(p.m, a)
		p.n.Add(-1)
	}
}

func (p *probeSet) take(a netip.AddrPort) (chan error, bool) {
	if p.n.Load() == 0 {
		return nil, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ch, ok := p.m[a]
	if ok {
		delete(p.m, a)
		p.n.Add(-1)
	}
	return ch, ok
}

// Probe is pipelock's liveness check for systemd's watchdog and /healthz:
// each of lns (the listeners the daemon serves with this Server) accepts a
// connection from the probe and identifies its owner, through sock_diag,
// as pipelock itself. It returns when that is done or ctx ends. The
// listeners are named by the caller, not taken from Serve, so a listener
// whose serving loop never started or has ended fails too.
func (s *Server) Probe(ctx context.Context, lns ...net.Listener) error {
	if s.shut.Load() {
		return errors.New("health probe: pipelock is shutting down")
	}
	if len(lns) == 0 {
		return errors.New("health probe: no listener to probe")
	}
	for _, ln := range lns {
		if err := s.probe(ctx, ln); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) probe(ctx context.Context, ln net.Listener) error {
	ta, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		return fmt.Errorf("health probe: listener %s is not TCP", ln.Addr())
	}
	target := ta.AddrPort()
	if ip := target.Addr().Unmap(); ip.IsUnspecified() {
		lo := netip.MustParseAddr("127.0.0.1")
		if ip.Is6() {
			lo = netip.IPv6Loopback()
		}
		target = netip.AddrPortFrom(lo, target.Port())
	}
	// The probe's address must be known before it connects, or the
	// serving side could look for it before it is registered: bind first,
	// register, then connect.
	answer := make(chan error, 1)
	var self netip.AddrPort
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		cerr := rc.Control(func(fd uintptr) { self, err = bindLoopback(int(fd), target.Addr().Unmap().Is4()) })
		if err == nil {
			err = cerr
		}
		if err == nil {
			s.probes.add(self, answer)
		}
		return err
	}}
	network := "tcp4"
	if !target.Addr().Unmap().Is4() {
		network = "tcp6"
	}
	c, err := d.DialContext(ctx, network, target.String())
	defer func() {
		if self.IsValid() {
			s.probes.remove(self)
		}
	}()
	if err != nil {
		return fmt.Errorf("health probe: connect to %s: %w", target, err)
	}
	defer c.Close()
	select {
	case err := <-answer:
		return err
	case <-ctx.Done():
		return fmt.Errorf("health probe: pipelock did not accept and identify its connection to %s: %w", target, ctx.Err())
	}
}

// bindLoopback binds fd to an ephemeral port on loopback and returns it.
func bindLoopback(fd int, v4 bool) (netip.AddrPort, error) {
	var sa unix.Sockaddr = &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if !v4 {
		sa = &unix.SockaddrInet6{Addr: netip.IPv6Loopback().As16()}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return netip.AddrPort{}, fmt.Errorf("bind: %w", err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("getsockname: %w", err)
	}
	switch a := got.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)), nil
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)), nil
	}
	return netip.AddrPort{}, fmt.Errorf("getsockname: unexpected %T", got)
}

// answerProbe reports whether c is a health probe's connection and, if so,
// identifies its caller as any client's would be and tells the probe.
func (s *Server) answerProbe(c net.Conn) bool {
	if s.probes.n.Load() == 0 {
		return false
	}
	remote, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return false
	}
	remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	ch, ok := s.probes.take(remote)
	if !ok {
		return false
	}
	local, err := netip.ParseAddrPort(c.LocalAddr().String())
	var uid uint32
	if err == nil {
		uid, err = s.identify(local, remote)
	}
	switch want := uint32(os.Geteuid()); {
	case err != nil:
		err = fmt.Errorf("health probe: identity lookup (sock_diag) of the probe's connection %s -> %s: %w", remote, local, err)
	case uid != want:
		err = fmt.Errorf("health probe: identity lookup (sock_diag) named uid %d as the owner of pipelock's own connection %s, want %d", uid, remote, want)
	}
	ch <- err
	return true
}
