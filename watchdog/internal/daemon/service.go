package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/clemhq/clem/shared/lifecycle"
	"github.com/clemhq/clem/watchdog/internal/config"
	"github.com/clemhq/clem/watchdog/internal/outbox"
)

// DrainTimeout bounds the stop: the round in flight ends (it is bounded
// by its own timeout, and stopping cancels it) and the alerts waiting for
// coord get one last try.
const DrainTimeout = 10 * time.Second

// RoundTimeout bounds one check round at interval: a round never runs
// into the next, and a hung D-Bus call or health socket ends it.
func RoundTimeout(interval time.Duration) time.Duration { return max(interval, 10*time.Second) }

// Options are what a Watchdog needs besides its config and its windows.
type Options struct {
	// Path is the config file a reload re-reads.
	Path string
	// NewSender makes the sender of alerts for coord's socket, again when
	// a reload moves it; nil keeps Deps.Sender.
	NewSender func(coordSocket string) outbox.Sender
	// Signals replaces SIGHUP delivery (tests); nil listens for SIGHUP.
	Signals <-chan os.Signal
}

// Watchdog is the running watchdog: a check loop that runs one round every
// interval, under shared/lifecycle (admin socket, probe, reload, stop).
type Watchdog struct {
	o     Options
	d     Deps
	log   *slog.Logger
	w     *Watcher // the check loop's, and a reload's only through it
	cfg   atomic.Pointer[config.Config]
	apply chan applyReq
	ready chan struct{} // closed by the first round that could read systemd
	done  chan struct{} // closed when the check loop has returned

	lastEnd  atomic.Int64 // Deps.Clock at the end of the last round, in Unix ns
	status   atomic.Pointer[string]
	alerting atomic.Int64
}

// applyReq hands a checked config to the check loop.
type applyReq struct {
	cfg  *config.Config
	done chan struct{}
}

// New returns a watchdog for cfg.
func New(cfg *config.Config, d Deps, o Options) *Watchdog {
	if o.NewSender != nil {
		d.Sender = o.NewSender(cfg.CoordSocket)
	}
	wd := &Watchdog{o: o, d: d, log: d.Log, w: NewWatcher(cfg, d),
		apply: make(chan applyReq), ready: make(chan struct{}), done: make(chan struct{})}
	wd.cfg.Store(cfg)
	st := "starting: no check round could read systemd yet"
	wd.status.Store(&st)
	return wd
}

// Serve runs the check loop until ctx ends. It tells systemd READY after
// the first round that could read systemd (a watchdog that is blind has
// not started), then hands the rest of its life to lifecycle.Run.
func (wd *Watchdog) Serve(ctx context.Context) error {
	sigs := wd.o.Signals
	if sigs == nil {
		// Listen for SIGHUP from the start, not only once lifecycle.Run
		// does after READY: `systemctl reload` while the first rounds are
		// still blind would otherwise kill the watchdog (SIGHUP's default
		// action). A SIGHUP waiting here is a reload as soon as it runs.
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		sigs = hup
	}
	lctx, stopLoop := context.WithCancel(ctx)
	defer func() { stopLoop(); <-wd.done }()
	go func() { defer close(wd.done); wd.loop(lctx) }()

	select {
	case <-wd.ready:
	case <-ctx.Done():
		return nil
	}
	cfg := wd.cfg.Load()
	return lifecycle.Run(ctx, lifecycle.Service{
		Name:    "watchdog",
		Log:     wd.log,
		Admin:   cfg.Admin.Socket,
		Probe:   wd.Probe,
		Reload:  wd.Reload,
		Status:  wd.Status,
		Metrics: wd.Metrics,
		Drain: func(dctx context.Context) error {
			stopLoop()
			select {
			case <-wd.done:
			case <-dctx.Done():
				return dctx.Err()
			}
			wd.w.Flush(dctx)
			if n := wd.w.out.Len(); n > 0 {
				where := "this journal"
				if wd.w.cfg.StateFile != "" {
					where += " and the state file, sent after the restart"
				}
				wd.log.Warn("stopping with alerts coord has not taken; they are in "+where, "waiting", n)
			}
			return nil
		},
		DrainTimeout: DrainTimeout,
		Signals:      sigs,
	})
}

// loop runs a round now and then every interval, and applies reloaded
// configs between rounds, until ctx ends.
func (wd *Watchdog) loop(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case req := <-wd.apply:
			wd.reconfigure(req.cfg)
			close(req.done)
			continue
		case <-timer.C:
		}
		err := wd.round(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			wd.log.Error("check round failed", "err", err.Error())
		} else {
			select {
			case <-wd.ready:
			default:
				close(wd.ready)
				wd.log.Info("watchdog ready: first check round done")
			}
		}
		timer.Reset(wd.cfg.Load().Interval)
	}
}

// round runs one check round bounded by RoundTimeout, sends what it
// raised, and publishes its outcome for the probe, STATUS and metrics.
func (wd *Watchdog) round(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, RoundTimeout(wd.cfg.Load().Interval))
	defer cancel()
	err := wd.w.Round(rctx)
	wd.w.Flush(rctx)
	wd.lastEnd.Store(wd.d.Clock.Now().UnixNano())
	wd.publish()
	return err
}

// publish copies what other goroutines read out of the loop's watcher.
func (wd *Watchdog) publish() {
	st := wd.w.Status()
	wd.status.Store(&st)
	wd.alerting.Store(int64(wd.w.Alerting()))
}

// Status is the STATUS= line: the last round's outcome.
func (wd *Watchdog) Status() string { return *wd.status.Load() }

// Reload re-reads the config file. A config that does not load is refused
// with its file:line errors and the old one keeps serving; one that loads
// is applied by the check loop between two rounds, keeping the alert state
// of every subject still watched. It returns once the config is applied.
func (wd *Watchdog) Reload() error {
	cfg, err := config.Load(wd.o.Path)
	if err != nil {
		return err
	}
	// The loop takes a config between rounds, and a round is bounded.
	wait := RoundTimeout(wd.cfg.Load().Interval) + 5*time.Second
	req := applyReq{cfg: cfg, done: make(chan struct{})}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case wd.apply <- req:
	case <-wd.done:
		return errors.New("reload: the watchdog is stopping; the old config stays until it exits")
	case <-t.C:
		return fmt.Errorf("reload %s: not applied: a check round has run for over %v; the old config keeps serving, try again", wd.o.Path, wait)
	}
	<-req.done
	return nil
}

// reconfigure applies cfg in the check loop.
func (wd *Watchdog) reconfigure(cfg *config.Config) {
	old := wd.cfg.Load()
	if cfg.Admin.Socket != old.Admin.Socket {
		wd.log.Warn("admin.socket changed; the admin socket moves at the next restart", "serving", old.Admin.Socket, "configured", cfg.Admin.Socket)
	}
	if cfg.CoordSocket != old.CoordSocket && wd.o.NewSender != nil {
		wd.w.out.SetSender(wd.o.NewSender(cfg.CoordSocket))
	}
	wd.w.Reconfigure(cfg)
	wd.cfg.Store(cfg)
	wd.publish()
	wd.log.Info("config applied", "path", wd.o.Path, "agents", len(cfg.Agents), "daemons", len(cfg.Daemons),
		"interval", cfg.Interval.String(), "failures", cfg.Failures, "window", cfg.Window.String(), "cooldown", cfg.Cooldown.String())
}
