package daemon

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/clemhq/clem/shared/selfprobe"
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

// acceptProbe is the MCP listener, seen by the health probe from inside
// (shared/selfprobe): the probe's own connection is recognised as it comes
// out of Accept (taken by the same loop that serves agents, so a stopped
// or wedged loop fails the probe), identified as an agent's would be, and
// closed there, so it never reaches MCP nor the audit log.
type acceptProbe struct {
	net.Listener
	who      func(net.Conn) (uint32, error)
	addr     netip.AddrPort
	expected selfprobe.Expected
}

func newAcceptProbe(ln net.Listener, who func(net.Conn) (uint32, error)) *acceptProbe {
	return &acceptProbe{Listener: ln, who: who, addr: selfprobe.AddrPort(ln.Addr())}
}

// Accept returns the next connection that is not a probe's.
func (l *acceptProbe) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		answer, ok := l.expected.TakeConn(c)
		if !ok {
			return c, nil
		}
		answer(selfprobe.Owner(l.who(c)))
		c.Close()
	}
}

// probe connects to the MCP listener as the probe and waits for Accept's
// verdict.
func (l *acceptProbe) probe(ctx context.Context) error {
	if err := l.expected.Dial(ctx, l.addr); err != nil {
		return fmt.Errorf("mcp endpoint: %w", err)
	}
	return nil
}
