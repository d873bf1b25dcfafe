package lifecycle

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clemhq/clem/shared/sdnotify"
)

// prober runs a daemon's probe for the watchdog loop and /healthz alike,
// never two at once: a probe that hangs (the daemon deadlocked) is a
// failure for every caller until it returns, and does not pile up more
// goroutines stuck behind the same lock.
type prober struct {
	probe   func(context.Context) error
	timeout time.Duration

	mu       sync.Mutex
	inflight *probeRun
	last     error
	wg       sync.WaitGroup

	runs     atomic.Uint64
	failures atomic.Uint64
}

type probeRun struct {
	done chan struct{}
	err  error
}

// run returns the result of a probe: the one in flight if there is one,
// else a new one. It gives up when ctx ends or the probe outlives its
// timeout; the probe itself gets a context that ends at its timeout.
func (p *prober) run(ctx context.Context) error {
	p.mu.Lock()
	r := p.inflight
	if r == nil {
		r = &probeRun{done: make(chan struct{})}
		p.inflight = r
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			// The probe's own deadline comes a fifth before the callers
			// give up, so a probe that notices it is stuck can still say
			// where before its callers report a bare timeout.
			pctx, cancel := context.WithTimeout(context.Background(), p.timeout*4/5)
			err := p.probe(pctx)
			cancel()
			p.mu.Lock()
			r.err = err
			p.inflight = nil
			p.mu.Unlock()
			close(r.done)
		}()
	}
	p.mu.Unlock()
	timer := time.NewTimer(p.timeout)
	defer timer.Stop()
	var err error
	select {
	case <-r.done:
		err = r.err
	case <-timer.C:
		err = fmt.Errorf("health probe did not answer within %s", p.timeout)
	case <-ctx.Done():
		select {
		case <-r.done: // finished as the caller gave up: its answer says more
			err = r.err
		default:
			err = fmt.Errorf("health probe did not answer: %w", ctx.Err())
		}
	}
	p.runs.Add(1)
	if err != nil {
		p.failures.Add(1)
	}
	p.mu.Lock()
	p.last = err
	p.mu.Unlock()
	return err
}

// lastErr is the latest probe's result.
func (p *prober) lastErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// wait waits for a probe in flight, at most one probe timeout: a probe
// that ignores its context is the daemon's deadlock, and must not also
// keep it from exiting.
func (p *prober) wait() {
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(p.timeout):
	}
}

// probeTimeout bounds one probe: a quarter of systemd's watchdog interval
// (so a probe and its ping fit in the half interval between pings), at
// most 4s, under the 5s the clem watchdog waits for /healthz, so a stuck
// daemon's 503 (which says what hung) reaches it; 4s when systemd set no
// watchdog.
func probeTimeout(watchdog time.Duration) time.Duration {
	const most = 4 * time.Second
	if watchdog <= 0 {
		return most
	}
	return min(max(watchdog/4, 10*time.Millisecond), most)
}

// probeLoop probes every half watchdog interval and pings systemd only
// after a probe passed. It logs each change between passing and failing
// once, and keeps STATUS current.
func (l *life) probeLoop(ctx context.Context) {
	interval, watched := sdnotify.WatchdogInterval()
	every := interval / 2
	if !watched {
		if every = l.s.ProbeEvery; every <= 0 {
			return
		}
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	var prev error
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		err := l.probes.run(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil && watched {
			sdnotify.Watchdog()
		}
		switch {
		case err != nil && prev == nil:
			l.s.Log.Error("health probe failed; systemd's watchdog gets no ping until it passes", "daemon", l.s.Name, "err", err)
		case err == nil && prev != nil:
			l.s.Log.Info("health probe passes again", "daemon", l.s.Name)
		}
		prev = err
		l.status(false)
	}
}
