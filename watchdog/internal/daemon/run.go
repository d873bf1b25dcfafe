package daemon

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/clemhq/clem/shared/coordapi"
	"github.com/clemhq/clem/shared/egressstate"
	"github.com/clemhq/clem/shared/sdnotify"
	"github.com/clemhq/clem/watchdog/internal/config"
	"github.com/clemhq/clem/watchdog/internal/health"
	"github.com/clemhq/clem/watchdog/internal/statefile"
	"github.com/clemhq/clem/watchdog/internal/systemd"
)

// Run watches the fleet in the config at path until ctx is cancelled.
func Run(ctx context.Context, path string, log *slog.Logger) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		return errors.New("refusing to run as root: the watchdog runs as its own unprivileged user (<project>-watchdog)")
	}
	r := systemd.NewReader()
	defer r.Close()
	w := NewWatcher(cfg, Deps{
		Units:  r,
		States: statefile.Files{},
		Health: health.Probe,
		Egress: egressstate.Read,
		Clock:  SystemClock{},
		Sender: coordapi.NewClient(cfg.CoordSocket),
		Log:    log,
	})
	log.Info("watchdog starting", "project", cfg.Project, "agents", len(cfg.Agents), "daemons", len(cfg.Daemons),
		"interval", cfg.Interval.String(), "failures", cfg.Failures, "window", cfg.Window.String(), "cooldown", cfg.Cooldown.String())
	return Loop(ctx, w, cfg.Interval, log)
}

// Loop runs a round now and then every interval until ctx is done. READY
// goes to systemd after the first round that could read systemd; WATCHDOG
// pings go out only while rounds keep finishing.
func Loop(ctx context.Context, w *Watcher, interval time.Duration, log *slog.Logger) error {
	roundTimeout := max(interval, 10*time.Second)
	var lastEnd atomic.Int64
	lastEnd.Store(time.Now().UnixNano())
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	go sdnotify.RunWatchdog(lctx, func() bool {
		return time.Since(time.Unix(0, lastEnd.Load())) < 2*interval+roundTimeout
	})
	ready := false
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		rctx, cancel := context.WithTimeout(lctx, roundTimeout)
		err := w.Round(rctx)
		w.Flush(rctx)
		cancel()
		lastEnd.Store(time.Now().UnixNano())
		if err != nil {
			log.Error("check round failed", "err", err.Error())
		} else if !ready {
			ready = true
			sdnotify.Ready()
			log.Info("watchdog ready: first check round done")
		}
		sdnotify.Status("%s", w.Status())
		select {
		case <-ctx.Done():
			sdnotify.Stopping()
			if n := w.out.Len(); n > 0 {
				log.Warn("stopping with alerts coord has not taken; they are in this journal", "waiting", n)
			}
			return nil
		case <-tick.C:
		}
	}
}
