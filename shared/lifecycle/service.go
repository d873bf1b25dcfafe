package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/clemhq/clem/shared/admin"
	"github.com/clemhq/clem/shared/sdnotify"
)

// DefaultDrainTimeout bounds a drain when the Service sets none; it stays
// under the units' TimeoutStopSec=30s so systemd never has to SIGKILL a
// daemon that is draining.
const DefaultDrainTimeout = 25 * time.Second

// Service is what a daemon tells Run about itself. Probe is required;
// everything else may be left zero.
type Service struct {
	// Name names the daemon in logs, STATUS lines and metric labels.
	Name string
	Log  *slog.Logger
	// Admin is the admin socket's path; "" serves none.
	Admin string

	// Probe is the daemon's real liveness check: it exercises what the
	// daemon exists to do (accept and identify a connection, complete a
	// TLS handshake, answer a board query) and must honour ctx. WATCHDOG
	// is sent only after it passes, so a daemon whose probe fails or hangs
	// is restarted by systemd within WatchdogSec.
	Probe func(ctx context.Context) error
	// Degraded reports a condition a restart cannot fix (a full disk):
	// /healthz answers 503 with it and STATUS says so, but WATCHDOG pings
	// go on, since restarting would only drop the daemon's open work.
	Degraded func() error
	// Reload re-reads the configuration; an error means it was refused and
	// the old configuration keeps serving. nil refuses every reload.
	Reload func() error
	// Status is the STATUS= text while healthy.
	Status func() string
	// Metrics writes the daemon's own Prometheus text after the
	// lifecycle's clem_daemon_* series.
	Metrics func(w io.Writer)
	// Drain stops accepting and lets work in flight finish; its ctx ends
	// after DrainTimeout.
	Drain        func(ctx context.Context) error
	DrainTimeout time.Duration
	// Failed carries the error of a listener that stopped serving: Run
	// drains and returns it, so the unit fails loudly and restarts.
	Failed <-chan error

	// Signals replaces SIGHUP delivery (tests); nil listens for SIGHUP.
	Signals <-chan os.Signal
	// ProbeEvery overrides the probe period when no systemd watchdog is
	// configured (tests, or a daemon run by hand); zero runs no probe
	// loop then.
	ProbeEvery time.Duration
}

// life is one Run's state, shared by the probe loop, the admin socket and
// the reload path.
type life struct {
	s       Service
	started time.Time

	reloadMu     sync.Mutex
	reloads      atomic.Uint64
	reloadErrors atomic.Uint64
	probes       prober

	statusMu   sync.Mutex
	lastStatus string
}

// Run serves s until ctx is done or a listener fails. Call it after the
// daemon's listeners are bound: it opens the admin socket, then tells
// systemd READY.
func Run(ctx context.Context, s Service) error {
	if s.Probe == nil {
		return fmt.Errorf("lifecycle %s: no health probe: every daemon needs one that can fail", s.Name)
	}
	if s.Log == nil {
		s.Log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if s.DrainTimeout <= 0 {
		s.DrainTimeout = DefaultDrainTimeout
	}
	l := &life{s: s, started: time.Now()}
	interval, _ := sdnotify.WatchdogInterval()
	l.probes.probe, l.probes.timeout = s.Probe, probeTimeout(interval)

	sigs := s.Signals
	if sigs == nil {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		sigs = hup
	}
	var as *admin.Server
	if s.Admin != "" {
		var err error
		as, err = admin.Serve(s.Admin, admin.Handlers{Healthy: l.healthz, Metrics: l.metrics, Reload: l.reload})
		if err != nil {
			l.drain()
			return err
		}
	}
	sdnotify.Ready()
	l.status(true)
	s.Log.Info(s.Name+" ready", "admin", s.Admin)

	pctx, stopProbes := context.WithCancel(ctx)
	probesDone := make(chan struct{})
	go func() { defer close(probesDone); l.probeLoop(pctx) }()

	var runErr error
loop:
	for {
		select {
		case <-sigs:
			l.reload()
		case err := <-s.Failed:
			runErr = err
			s.Log.Error(s.Name+" stopping: a listener failed", "err", err)
			break loop
		case <-ctx.Done():
			break loop
		}
	}
	stopProbes()
	<-probesDone
	sdnotify.Stopping()
	sdnotify.Status("stopping: draining")
	l.drain()
	if as != nil {
		as.Close()
	}
	l.probes.wait()
	return runErr
}

// drain runs the daemon's Drain bounded by DrainTimeout.
func (l *life) drain() {
	if l.s.Drain == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.s.DrainTimeout)
	defer cancel()
	if err := l.s.Drain(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			l.s.Log.Warn(l.s.Name+" drain cut short", "after", l.s.DrainTimeout.String())
			return
		}
		l.s.Log.Error(l.s.Name+" drain", "err", err)
	}
}

// reload applies a reload, serialised, between RELOADING=1 and READY=1.
func (l *life) reload() error {
	l.reloadMu.Lock()
	defer l.reloadMu.Unlock()
	sdnotify.Reloading()
	err := errors.New("this daemon does not reload: restart it")
	if l.s.Reload != nil {
		err = l.s.Reload()
	}
	// Counted and logged before READY, so whoever waits for READY reads
	// the outcome.
	if err != nil {
		l.reloadErrors.Add(1)
		l.s.Log.Error("reload refused; the old config keeps serving", "daemon", l.s.Name, "err", err)
	} else {
		l.reloads.Add(1)
		l.s.Log.Info("reloaded", "daemon", l.s.Name)
	}
	sdnotify.Ready()
	l.status(true)
	return err
}

// healthz is /healthz: the same probe the watchdog pings on, then the
// degraded conditions.
func (l *life) healthz() error {
	ctx, cancel := context.WithTimeout(context.Background(), l.probes.timeout)
	defer cancel()
	if err := l.probes.run(ctx); err != nil {
		return err
	}
	if l.s.Degraded != nil {
		if err := l.s.Degraded(); err != nil {
			return fmt.Errorf("degraded: %w", err)
		}
	}
	return nil
}

// status sends STATUS= when its text changed (or always when force).
func (l *life) status(force bool) {
	text := "serving"
	if l.s.Status != nil {
		text = l.s.Status()
	}
	if err := l.probes.lastErr(); err != nil {
		text = "unhealthy: " + err.Error()
	} else if l.s.Degraded != nil {
		if err := l.s.Degraded(); err != nil {
			text = "degraded: " + err.Error()
		}
	}
	l.statusMu.Lock()
	defer l.statusMu.Unlock()
	if !force && text == l.lastStatus {
		return
	}
	l.lastStatus = text
	sdnotify.Status("%s", text)
}
