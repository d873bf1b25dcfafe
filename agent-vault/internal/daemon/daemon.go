// Package daemon wires agent-vault together: config and secrets, the CA
// (rotated when the brokered hosts change), listeners, audit, reload on
// SIGHUP, sd_notify and graceful shutdown. Only agent-vault imports it.
package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/clemhq/clem/agent-vault/internal/broker"
	"github.com/clemhq/clem/agent-vault/internal/ca"
	"github.com/clemhq/clem/agent-vault/internal/config"
	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/sdnotify"
	"github.com/clemhq/clem/shared/unixsock"
)

// Run serves the config at path until ctx is cancelled, reloading on SIGHUP.
func Run(ctx context.Context, path string, log *slog.Logger) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	return serve(ctx, path, log, hup)
}

// serve is Run with the reload trigger passed in, so tests need no signals.
func serve(ctx context.Context, path string, log *slog.Logger, hup <-chan os.Signal) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	aw, err := openAudit(cfg)
	if err != nil {
		return err
	}
	defer aw.Close()
	authority, err := loadCA(cfg, aw)
	if err != nil {
		return err
	}
	srv, err := broker.New(cfg, authority, aw)
	if err != nil {
		return err
	}
	var lns []net.Listener
	if p := cfg.File.Listen.Socket; p != "" {
		// Mode 0660: only its owner and group (pipelock's, under clem) can
		// connect; SO_PEERCRED decides the rest. Closing it unlinks it.
		ln, err := unixsock.Listen(p, 0o750, 0o660)
		if err != nil {
			return fmt.Errorf("listen.socket: %w", err)
		}
		lns = append(lns, ln)
	}
	if a := cfg.File.Listen.TCP; a != "" {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return fmt.Errorf("listen %s: %w", a, err)
		}
		lns = append(lns, ln)
	}
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errc <- srv.Serve(ln) }()
	}
	aw.Write(&audit.Record{Component: "agent-vault", Event: "start", Decision: audit.Allow, Reason: fmt.Sprintf("%d bindings, %d hosts", len(cfg.File.Bindings), len(cfg.Hosts))})
	sdnotify.Ready()
	sdnotify.Status("brokering %d bindings for %d hosts", len(cfg.File.Bindings), len(cfg.Hosts))
	log.Info("agent-vault serving", "socket", cfg.File.Listen.Socket, "tcp", cfg.File.Listen.TCP, "bindings", len(cfg.File.Bindings))
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	// WATCHDOG only while the probe passes: systemd restarts a broker whose
	// socket is gone or whose CA cannot serve.
	go sdnotify.RunWatchdog(wctx, func() bool {
		err := healthy(srv, cfg.File.Listen.Socket)
		if err != nil {
			log.Error("health probe failed", "err", err)
		}
		return err == nil
	})

	for {
		select {
		case <-hup:
			sdnotify.Reloading()
			if err := reload(srv, path, aw); err != nil {
				log.Error("reload rejected; the old config keeps serving", "err", err)
			} else {
				log.Info("reloaded", "config", path)
			}
			sdnotify.Ready()
		case err := <-errc:
			srv.Shutdown(context.Background())
			return fmt.Errorf("listener: %w", err)
		case <-ctx.Done():
			sdnotify.Stopping()
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
			return nil
		}
	}
}

// Reload re-reads path; on any error the old config and CA stay in force.
func reload(srv *broker.Server, path string, aw *audit.Writer) error {
	rec := &audit.Record{Component: "agent-vault", Event: "reload"}
	next, err := config.Load(path)
	var authority *ca.CA
	if err == nil {
		authority, err = loadCA(next, aw)
	}
	if err == nil {
		err = srv.Reload(next, authority)
	}
	if err != nil {
		rec.Decision, rec.Reason = audit.Deny, err.Error()
	} else {
		rec.Decision, rec.Reason = audit.Allow, "reloaded"
	}
	aw.Write(rec)
	return err
}

// loadCA loads the CA for cfg's hosts, minting a new one (and auditing the
// rotation) when the hosts changed.
func loadCA(cfg *config.Config, aw *audit.Writer) (*ca.CA, error) {
	authority, rotated, err := ca.LoadOrCreate(cfg.File.CA.Dir, cfg.Hosts)
	if err != nil {
		return nil, fmt.Errorf("broker CA: %w", err)
	}
	if rotated {
		aw.Write(&audit.Record{Component: "agent-vault", Event: "ca_rotation", Decision: audit.Allow, Reason: fmt.Sprintf("new CA for %d hosts; agents must trust %s", len(cfg.Hosts), filepath.Join(cfg.File.CA.Dir, "ca.pem"))})
	}
	return authority, nil
}

func openAudit(cfg *config.Config) (*audit.Writer, error) {
	a := cfg.File.Audit
	return audit.Open(a.Path, a.MaxSizeMB, a.Keep)
}

// CA prints the CA certificate for cfg (creating it if needed).
func CA(path string) ([]byte, error) {
	dir, hosts, err := config.LoadCA(path)
	if err != nil {
		return nil, err
	}
	authority, _, err := ca.LoadOrCreate(dir, hosts)
	if err != nil {
		return nil, err
	}
	return authority.CertPEM(), nil
}

// healthy is agent-vault's probe: its socket is still in place (a broker
// nobody can reach is down) and its CA mints a leaf that verifies now.
func healthy(srv *broker.Server, socket string) error {
	if socket != "" {
		fi, err := os.Lstat(socket)
		if err != nil {
			return fmt.Errorf("socket: %w", err)
		}
		if fi.Mode()&os.ModeSocket == 0 {
			return fmt.Errorf("socket %s is not a socket (%v)", socket, fi.Mode().Type())
		}
	}
	return srv.Healthy()
}
