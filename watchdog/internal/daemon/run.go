package daemon

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/clemhq/clem/shared/coordapi"
	"github.com/clemhq/clem/shared/egressstate"
	"github.com/clemhq/clem/watchdog/internal/config"
	"github.com/clemhq/clem/watchdog/internal/health"
	"github.com/clemhq/clem/watchdog/internal/outbox"
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
	wd := New(cfg, Deps{
		Units:  r,
		States: statefile.Files{},
		Health: health.Probe,
		Egress: egressstate.Read,
		Clock:  SystemClock{},
		Log:    log,
	}, Options{
		Path:      path,
		NewSender: func(socket string) outbox.Sender { return coordapi.NewClient(socket) },
	})
	log.Info("watchdog starting", "project", cfg.Project, "agents", len(cfg.Agents), "daemons", len(cfg.Daemons),
		"interval", cfg.Interval.String(), "failures", cfg.Failures, "window", cfg.Window.String(), "cooldown", cfg.Cooldown.String(),
		"admin", cfg.Admin.Socket)
	return wd.Serve(ctx)
}
