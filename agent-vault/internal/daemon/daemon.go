// Package daemon wires agent-vault together: config and secrets, the CA
// (rotated when the brokered hosts change), listeners, audit, and its life
// under systemd through shared/lifecycle (READY, the health probe behind
// WATCHDOG and /healthz, reload on SIGHUP and POST /reload, the drain).
// Only agent-vault imports it.
package daemon

import (
	"context"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/clemhq/clem/agent-vault/internal/broker"
	"github.com/clemhq/clem/agent-vault/internal/ca"
	"github.com/clemhq/clem/agent-vault/internal/config"
	"github.com/clemhq/clem/agent-vault/internal/signer"
	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/lifecycle"
	"github.com/clemhq/clem/shared/unixsock"
)

// Run serves the config at path until ctx is cancelled, reloading on
// SIGHUP and POST /reload.
func Run(ctx context.Context, path string, log *slog.Logger) error {
	// x/crypto's ssh-agent server logs each request it fails to the
	// standard logger. The signer audits every one of those refusals
	// already; a line per refusal on stderr would let an agent flood the
	// journal by asking in a loop.
	stdlog.SetOutput(io.Discard)
	return serve(ctx, path, log, nil, nil)
}

// vault is one running agent-vault: what its probe, reload and status need.
type vault struct {
	path string
	log  *slog.Logger
	aw   *audit.Writer
	srv  *broker.Server
	sg   *signer.Signer  // nil without [signer]
	ctx  context.Context // the daemon's life: refreshers of reloaded configs run in it

	// network and addr are the listener the probe goes through: the unix
	// socket pipelock uses, else the loopback TCP one. Fixed at start (a
	// reload does not move listeners).
	network, addr string

	mu  sync.Mutex
	cfg *config.Config // in force

	// caSwap is held while a reload replaces the CA (files, then the
	// server's copy) and while a probe runs, so a probe never sees the
	// new ca.pem with the old CA serving. A channel, not a mutex: a probe
	// waiting for it still honours its context.
	caSwap chan struct{}
}

// serve is Run with the reload trigger passed in (nil: SIGHUP), so tests
// need no signals, and ready told the listeners are bound.
func serve(ctx context.Context, path string, log *slog.Logger, hup <-chan os.Signal, started func(*vault)) error {
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
	v := &vault{path: path, log: log, aw: aw, srv: srv, cfg: cfg, caSwap: make(chan struct{}, 1), ctx: ctx}
	// GitHub App tokens are minted before READY (each refresher's first
	// attempt); a binding without one answers 503 while it retries.
	cfg.Start(ctx, nil, v.mintReport)
	defer func() {
		v.mu.Lock()
		v.cfg.Stop()
		v.mu.Unlock()
	}()
	lns, err := listen(cfg)
	if err != nil {
		srv.Shutdown(context.Background())
		return err
	}
	if p := cfg.File.Listen.Socket; p != "" {
		v.network, v.addr = "unix", p
	} else {
		v.network, v.addr = "tcp", lns[0].Addr().String()
	}
	errc := make(chan error, len(lns)+1)
	if v.sg, err = startSigner(cfg, aw, errc); err != nil {
		for _, ln := range lns {
			ln.Close()
		}
		srv.Shutdown(context.Background())
		return err
	}
	var serving sync.WaitGroup
	for _, ln := range lns {
		serving.Add(1)
		go func() {
			defer serving.Done()
			if err := srv.Serve(ln); err != nil {
				errc <- fmt.Errorf("listener %s: %w", ln.Addr(), err)
			}
		}()
	}
	aw.Write(&audit.Record{Component: "agent-vault", Event: "start", Decision: audit.Allow, Reason: fmt.Sprintf("%d bindings, %d hosts", len(cfg.File.Bindings), len(cfg.Hosts))})
	log.Info("agent-vault serving", "socket", cfg.File.Listen.Socket, "tcp", cfg.File.Listen.TCP, "admin", cfg.File.Listen.Admin, "bindings", len(cfg.File.Bindings))
	if started != nil {
		started(v)
	}
	err = lifecycle.Run(ctx, lifecycle.Service{
		Name:    "agent-vault",
		Log:     log,
		Admin:   cfg.File.Listen.Admin,
		Probe:   v.probe,
		Reload:  v.reload,
		Status:  v.status,
		Metrics: srv.WriteMetrics,
		Drain:   v.drain,
		Failed:  errc,
		Signals: hup,
	})
	// Shutdown closed the listeners (also when Run failed before its
	// drain ran, it drains then): every Serve has returned or returns now.
	serving.Wait()
	return err
}

// listen binds the configured listeners.
func listen(cfg *config.Config) ([]net.Listener, error) {
	var lns []net.Listener
	if p := cfg.File.Listen.Socket; p != "" {
		// Mode 0660: only its owner and group (pipelock's, under clem) can
		// connect; SO_PEERCRED decides the rest. Closing it unlinks it.
		ln, err := unixsock.Listen(p, 0o750, 0o660)
		if err != nil {
			return nil, fmt.Errorf("listen.socket: %w", err)
		}
		lns = append(lns, ln)
	}
	if a := cfg.File.Listen.TCP; a != "" {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("listen.tcp %s: %w", a, err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// status is the STATUS= line while healthy.
func (v *vault) status() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return fmt.Sprintf("brokering %d bindings for %d hosts", len(v.cfg.File.Bindings), len(v.cfg.Hosts))
}

// reload re-reads the config; on any error the old config and CA stay in
// force, and the error says what and where.
func (v *vault) reload() error {
	rec := &audit.Record{Component: "agent-vault", Event: "reload"}
	next, err := config.Load(v.path)
	if err == nil {
		err = v.swap(next)
	}
	if err != nil {
		rec.Decision, rec.Reason = audit.Deny, err.Error()
	} else {
		rec.Decision, rec.Reason = audit.Allow, "reloaded"
	}
	v.aw.Write(rec)
	return err
}

// swap rotates the CA if next's hosts need it and puts next in force.
func (v *vault) swap(next *config.Config) error {
	v.caSwap <- struct{}{}
	defer func() { <-v.caSwap }()
	// Everything that can refuse the config first: loading the CA for new
	// hosts rotates it on disk, and a rotated ca.pem with the old CA still
	// serving would fail the health probe and restart agent-vault into the
	// config it just refused.
	if err := v.swapSigner(next); err != nil {
		return err
	}
	prepared, err := broker.Prepare(next)
	if err != nil {
		return err
	}
	authority, err := loadCA(next, v.aw)
	if err != nil {
		prepared.Discard()
		return err
	}
	v.mu.Lock()
	prev := v.cfg
	v.mu.Unlock()
	// The new config takes over tokens the old one minted for the same
	// installation and key: a reload neither mints again nor leaves a gap.
	next.Start(v.ctx, prev, v.mintReport)
	v.srv.Apply(prepared, authority)
	v.mu.Lock()
	v.cfg = next
	v.mu.Unlock()
	prev.Stop() // its last token stays readable to requests in flight
	return nil
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

// mintReport audits each GitHub App token minted, or the failure to.
func (v *vault) mintReport(binding string, expires time.Time, err error) {
	rec := &audit.Record{Component: "agent-vault", Event: "github_app_token", Binding: binding, Decision: audit.Allow}
	if err != nil {
		rec.Decision, rec.Reason, rec.Error = audit.Deny, "minting a GitHub App token failed; requests on this binding get 503 until one is minted", err.Error()
	} else {
		rec.Reason = "minted; expires " + expires.UTC().Format(time.RFC3339)
	}
	v.aw.Write(rec)
}
