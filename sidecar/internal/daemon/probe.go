package daemon

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/clemhq/clem/shared/selfprobe"
)

// Probe is sidecar's liveness check, run by lifecycle before each WATCHDOG
// ping and by /healthz. It passes when, for every server, the port's accept
// loop takes a connection and identifies it through the kernel (the path
// every agent's call takes), and every running child answers a request.
// A wedge anywhere on that path (a lock held forever, an accept loop that
// no longer accepts, a stopped child) fails it when ctx ends, never hangs.
//
// A child that has exited and is being restarted does not fail it: its
// supervisor is already doing what a restart of sidecar would, and a
// crash-looping child (a revoked key) would otherwise make systemd
// crash-loop every server until the unit hits its start limit. Degraded
// reports it instead.
func (d *Daemon) Probe(ctx context.Context) error {
	// Give up a little before the caller does, so a wedge is reported
	// with what is wedged rather than only as a probe that timed out.
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-time.Until(dl)/5))
		defer cancel()
	}
	if err := d.mu.lockCtx(ctx); err != nil {
		return fmt.Errorf("sidecar's config lock is held (a reload or shutdown that does not end): %w", err)
	}
	ports := d.portList()
	shut := d.ports == nil
	d.mu.unlock()
	if shut {
		return errors.New("sidecar is shutting down")
	}
	for _, p := range ports {
		if err := d.probePort(ctx, p.port); err != nil {
			return fmt.Errorf("server %s on %s: %w", p.name, p.port.ln.Addr(), err)
		}
	}
	for _, p := range ports {
		if err := p.port.relay.Load().Answering(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Degraded reports a server that is down while its supervisor restarts
// it: /healthz answers 503 with it (the watchdog alerts if it lasts), but
// systemd keeps getting pings, since restarting sidecar would not bring it
// back sooner and would cut every other server's calls.
func (d *Daemon) Degraded() error {
	for _, p := range d.view.Load().list() {
		if err := p.port.relay.Load().Down(); err != nil {
			return err
		}
	}
	return nil
}

// probePort connects to p's port as the probe (shared/selfprobe) and
// waits for the admitter's verdict: accepted and identified by the kernel
// as this process's uid.
func (d *Daemon) probePort(ctx context.Context, p *port) error {
	return d.probes.Dial(ctx, selfprobe.AddrPort(p.ln.Addr()))
}

// namedPort is one entry of the published port list.
type namedPort struct {
	name string
	port *port
}

// portSet is the port list published for readers that must not wait on
// the lock (Degraded, Metrics); nil while shut down.
type portSet []namedPort

func (s *portSet) list() []namedPort {
	if s == nil {
		return nil
	}
	return *s
}

// portList is d.ports sorted by name; call it holding d.mu.
func (d *Daemon) portList() []namedPort {
	out := make([]namedPort, 0, len(d.ports))
	for name, p := range d.ports {
		out = append(out, namedPort{name, p})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// publish puts the current ports in d.view; call it holding d.mu after
// every change of d.ports.
func (d *Daemon) publish() {
	if d.ports == nil {
		d.view.Store(nil)
		return
	}
	s := portSet(d.portList())
	d.view.Store(&s)
}
