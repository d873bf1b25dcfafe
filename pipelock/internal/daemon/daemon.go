// Package daemon wires pipelock together: config, listeners, audit log,
// admin socket, reload on SIGHUP or POST /reload, sd_notify, and graceful
// shutdown that drains tunnels. Only pipelock imports it.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/clemhq/clem/pipelock/internal/config"
	"github.com/clemhq/clem/pipelock/internal/proxy"
	"github.com/clemhq/clem/shared/admin"
	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/sdnotify"
)

// DrainTimeout bounds how long shutdown waits for open tunnels.
const DrainTimeout = 30 * time.Second

// Run serves the config at path until ctx is cancelled.
func Run(ctx context.Context, path string, log *slog.Logger) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	aw, err := openAudit(cfg)
	if err != nil {
		return err
	}
	defer aw.Close()
	srv := proxy.New(cfg, proxy.Options{Audit: aw})

	ln, err := listen("listen.proxy", cfg.File.Listen.Proxy)
	if err != nil {
		return err
	}
	var tln net.Listener
	if a := cfg.File.Listen.Transparent; a != "" {
		if tln, err = listen("listen.transparent", a); err != nil {
			ln.Close()
			return err
		}
	}
	var reloadMu sync.Mutex
	reload := func() error {
		reloadMu.Lock()
		defer reloadMu.Unlock()
		next, err := config.Load(path)
		if err == nil {
			err = srv.Reload(next)
		}
		if err != nil {
			srv.Stats.ReloadErrors.Add(1)
			log.Error("reload rejected; the old config keeps serving", "config", path, "err", err)
			return err
		}
		srv.Stats.Reloads.Add(1)
		log.Info("reloaded", "config", path, "clients", len(next.Clients))
		return nil
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if tln != nil {
		go func() { errc <- srv.ServeTransparent(tln) }()
	}
	if a := cfg.File.Listen.Admin; a != "" {
		as, err := admin.Listen(a, admin.Handlers{
			Healthy: func() error { return probe(cfg.File.Listen.Proxy) },
			Metrics: srv.Stats.WritePrometheus,
			Reload:  reload,
		})
		if err != nil {
			srv.Shutdown(context.Background())
			return err
		}
		defer func() { as.Close(); os.Remove(a) }()
	}
	sdnotify.Ready()
	sdnotify.Status("serving on %s, %d clients", cfg.File.Listen.Proxy, len(cfg.Clients))
	log.Info("pipelock serving", "proxy", cfg.File.Listen.Proxy, "transparent", cfg.File.Listen.Transparent, "admin", cfg.File.Listen.Admin, "clients", len(cfg.Clients))
	wctx, stopWatchdog := context.WithCancel(ctx)
	defer stopWatchdog()
	go sdnotify.RunWatchdog(wctx, func() bool { return probe(cfg.File.Listen.Proxy) == nil })

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			sdnotify.Reloading()
			reload()
			sdnotify.Ready()
		case err := <-errc:
			srv.Shutdown(context.Background())
			return fmt.Errorf("proxy listener: %w", err)
		case <-ctx.Done():
			sdnotify.Stopping()
			log.Info("draining", "active", srv.Stats.Active.Load())
			sctx, cancel := context.WithTimeout(context.Background(), DrainTimeout)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			return nil
		}
	}
}

// probe is pipelock's health check, for systemd's watchdog and the admin
// socket's /healthz alike: its proxy port takes a connection.
func probe(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return fmt.Errorf("proxy port %s: %w", addr, err)
	}
	return c.Close()
}

func openAudit(cfg *config.Config) (*audit.Writer, error) {
	a := cfg.File.Audit
	return audit.Open(a.Path, a.MaxSizeMB, a.Keep)
}
