// Package daemon wires pipelock together: config, listeners and audit log,
// then hands its life to shared/lifecycle (READY, a real health probe
// gating WATCHDOG, reload on SIGHUP or POST /reload, the admin socket,
// STATUS, and a shutdown that drains tunnels). Only pipelock imports it.
package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/clemhq/clem/pipelock/internal/config"
	"github.com/clemhq/clem/pipelock/internal/proxy"
	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/lifecycle"
)

// DrainTimeout bounds how long shutdown waits for open tunnels: under the
// unit's TimeoutStopSec=30s, so systemd never has to SIGKILL a draining
// pipelock.
const DrainTimeout = lifecycle.DefaultDrainTimeout

// AuditReserve is the free space the audit log's file system must keep:
// below it no record is written, so no connection is answered (see
// audit.Writer.KeepFree for why a reserve rather than the last byte).
const AuditReserve = 256 << 10

// Run serves the config at path until ctx is cancelled.
func Run(ctx context.Context, path string, log *slog.Logger) error {
	// SIGHUP from the start: before lifecycle.Run takes over, its default
	// action would end pipelock instead of reloading it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	return serve(ctx, path, log, hup)
}

// serve is Run with the reload signals supplied (tests send their own).
func serve(ctx context.Context, path string, log *slog.Logger, signals <-chan os.Signal) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	aw, err := openAudit(cfg, log)
	if err != nil {
		return err
	}
	defer aw.Close()
	srv := proxy.New(cfg, proxy.Options{Audit: aw})

	ln, err := listen("listen.proxy", cfg.File.Listen.Proxy)
	if err != nil {
		return err
	}
	lns := []net.Listener{ln}
	if a := cfg.File.Listen.Transparent; a != "" {
		tln, err := listen("listen.transparent", a)
		if err != nil {
			ln.Close()
			return err
		}
		lns = append(lns, tln)
	}
	failed := make(chan error, len(lns))
	serveOn := func(key string, ln net.Listener, serve func(net.Listener) error) {
		if err := serve(ln); err != nil {
			failed <- fmt.Errorf("%s %s: %w", key, ln.Addr(), err)
		}
	}
	listening(lns)
	go serveOn("listen.proxy", ln, srv.Serve)
	if len(lns) > 1 {
		go serveOn("listen.transparent", lns[1], srv.ServeTransparent)
	}
	log.Info("pipelock listening", "proxy", cfg.File.Listen.Proxy, "transparent", cfg.File.Listen.Transparent, "admin", cfg.File.Listen.Admin, "clients", len(cfg.Clients))

	return lifecycle.Run(ctx, lifecycle.Service{
		Name:  "pipelock",
		Log:   log,
		Admin: cfg.File.Listen.Admin,
		Probe: func(ctx context.Context) error { return srv.Probe(ctx, lns...) },
		Degraded: func() error {
			if srv.AuditErr() == nil {
				return nil
			}
			// Space may have come back while no connection came to find
			// out: a record of its own says whether the log takes records
			// again (and, if it does, ends the outage).
			aw.Write(&audit.Record{Component: "pipelock", Event: "audit_check", Decision: audit.Allow, Reason: "the audit log takes records again"})
			if err := srv.AuditErr(); err != nil {
				return fmt.Errorf("refusing connections: audit log unavailable: %w", err)
			}
			return nil
		},
		Reload: func() error { return reload(srv, path, log) },
		Status: func() string {
			c := srv.Config()
			return fmt.Sprintf("serving on %s, %d clients", c.File.Listen.Proxy, len(c.Clients))
		},
		Metrics: srv.Stats.WritePrometheus,
		Drain: func(ctx context.Context) error {
			log.Info("draining", "active", srv.Stats.Active.Load())
			return srv.Shutdown(ctx)
		},
		DrainTimeout: DrainTimeout,
		Failed:       failed,
		Signals:      signals,
	})
}

// listening is told the bound listeners; tests replace it to break them.
var listening = func([]net.Listener) {}

// reload re-reads the config at path and swaps it in; a config that does
// not load, or that moves the listeners, is refused and the old one keeps
// serving. lifecycle serialises reloads.
func reload(srv *proxy.Server, path string, log *slog.Logger) error {
	next, err := config.Load(path)
	if err == nil {
		err = srv.Reload(next)
	}
	if err != nil {
		srv.Stats.ReloadErrors.Add(1)
		return fmt.Errorf("reload %s: %w", path, err)
	}
	srv.Stats.Reloads.Add(1)
	log.Info("reloaded", "config", path, "clients", len(next.Clients))
	return nil
}

// openAudit opens the audit log and has it tell the journal, once each,
// when records stop reaching it (connections are refused from then on)
// and when they reach it again.
func openAudit(cfg *config.Config, log *slog.Logger) (*audit.Writer, error) {
	a := cfg.File.Audit
	aw, err := audit.Open(a.Path, a.MaxSizeMB, a.Keep)
	if err != nil {
		return nil, err
	}
	aw.KeepFree(AuditReserve)
	aw.OnHealthChange(func(err error) {
		if err != nil {
			log.Error("refusing connections: audit log unavailable", "err", err)
			return
		}
		log.Info("audit log writable again", "path", a.Path)
	})
	return aw, nil
}
