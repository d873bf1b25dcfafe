package daemon

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Probe is coord's health probe, for systemd's watchdog and the admin
// socket's /healthz alike: the board answers a query (core.Probe) and
// the MCP endpoint's serving loop accepts a connection and identifies
// its caller. It honours ctx: a wedged board or accept loop fails it
// when ctx ends.
func (d *Daemon) Probe(ctx context.Context) error {
	if err := d.c.Probe(ctx); err != nil {
		return err
	}
	var err error
	d.o.InNetns(func() { err = d.mcp.probe(ctx) })
	return err
}

// acceptProbe is the MCP listener, seen by the health probe from inside:
// the probe's own connection is recognised by its address as it comes
// out of Accept (taken by the same loop that serves agents, so a stopped
// or wedged loop fails the probe; a bare connect would succeed on the
// kernel's backlog alone), identified as an agent's would be, and closed
// there, so it never reaches MCP nor the audit log.
type acceptProbe struct {
	net.Listener
	who  func(net.Conn) (uint32, error)
	addr netip.AddrPort

	// waiting maps a probe's source address to the channel for Accept's
	// verdict. A sync.Map, not a mutex: the probe registers from inside
	// its dial, where nothing may block past its ctx.
	waiting sync.Map
}

func newAcceptProbe(ln net.Listener, who func(net.Conn) (uint32, error)) *acceptProbe {
	return &acceptProbe{Listener: ln, who: who, addr: addrPort(ln.Addr())}
}

// Accept returns the next connection that is not a probe's.
func (l *acceptProbe) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		verdict, ok := l.waiting.LoadAndDelete(addrPort(c.RemoteAddr()))
		if !ok {
			return c, nil
		}
		verdict.(chan error) <- l.identify(c)
		c.Close()
	}
}

// identify asks the kernel who owns the probe's connection, as the
// endpoint asks for every agent's: it must be coord itself. The address
// alone already says so (the probe's socket holds it bound), so this is
// for the lookup's sake: when sock_diag fails, every agent is refused.
func (l *acceptProbe) identify(c net.Conn) error {
	uid, err := l.who(c)
	if err != nil {
		return fmt.Errorf("mcp endpoint: identify a connection: %w", err)
	}
	if me := uint32(os.Geteuid()); uid != me {
		return fmt.Errorf("mcp endpoint: the probe's connection was identified as uid %d, not coord's %d", uid, me)
	}
	return nil
}

// probe connects to the listener from a source address bound (and
// announced to Accept) before the connect, so Accept cannot see it
// first, and waits for Accept's verdict.
func (l *acceptProbe) probe(ctx context.Context) error {
	verdict := make(chan error, 1)
	var from netip.AddrPort
	dialer := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		cerr := rc.Control(func(fd uintptr) {
			if from, err = bindLoopback(int(fd), l.addr.Addr()); err == nil {
				l.waiting.Store(from, verdict)
			}
		})
		if cerr != nil {
			return cerr
		}
		return err
	}}
	defer func() { l.waiting.Delete(from) }()
	conn, err := dialer.DialContext(ctx, "tcp", l.addr.String())
	if err != nil {
		return fmt.Errorf("mcp endpoint %s: connect: %w", l.addr, err)
	}
	defer conn.Close()
	select {
	case err := <-verdict:
		return err
	case <-ctx.Done():
		return fmt.Errorf("mcp endpoint %s: connected, but its serving loop did not accept: %w", l.addr, ctx.Err())
	}
}

// bindLoopback binds fd to an ephemeral port on addr and returns it.
func bindLoopback(fd int, addr netip.Addr) (netip.AddrPort, error) {
	var sa unix.Sockaddr
	if addr.Is4() {
		sa = &unix.SockaddrInet4{Addr: addr.As4()}
	} else {
		sa = &unix.SockaddrInet6{Addr: addr.As16()}
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
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port)), nil
	}
	return netip.AddrPort{}, fmt.Errorf("bind the probe's socket: unexpected address %T", got)
}

// addrPort is a TCP address as a comparable key (IPv4 unmapped).
func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		ap := t.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}
