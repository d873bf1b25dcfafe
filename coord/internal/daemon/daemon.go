// Package daemon wires coord together: config, backend, core, the unix API
// and the agents' MCP endpoint, the audit log, and its life under systemd
// (shared/lifecycle: READY, a real health probe before each WATCHDOG ping,
// reload on SIGHUP and POST /reload, the admin socket, a bounded drain).
// Only coord imports it.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/clemhq/clem/coord/internal/api"
	"github.com/clemhq/clem/coord/internal/backend"
	"github.com/clemhq/clem/coord/internal/config"
	"github.com/clemhq/clem/coord/internal/core"
	"github.com/clemhq/clem/coord/internal/mcpserver"
	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/connlimit"
	"github.com/clemhq/clem/shared/lifecycle"
)

// ShutdownTimeout bounds how long open requests may finish.
const ShutdownTimeout = 10 * time.Second

// Options let tests run coord inside namespaces of their own; the zero
// value is the daemon's.
type Options struct {
	// PeerUID names the MCP endpoint's callers; default sock_diag in the
	// calling thread's network namespace.
	PeerUID func(net.Conn) (uint32, error)
	// InNetns runs f where coord's listeners live, for the health probe's
	// dial; default runs it directly.
	InNetns func(f func())
	// Signals replaces SIGHUP (see lifecycle.Service.Signals).
	Signals <-chan os.Signal
	// ProbeEvery runs the probe loop without a systemd watchdog.
	ProbeEvery time.Duration
}

// Run serves the config at path until ctx is cancelled.
func Run(ctx context.Context, path string, log *slog.Logger) error {
	d, err := Start(path, log, Options{})
	if err != nil {
		return err
	}
	return d.Serve(ctx)
}

// Daemon is a coord whose listeners are bound.
type Daemon struct {
	path string
	log  *slog.Logger
	o    Options

	be  backend.Backend
	aw  *audit.Writer
	c   *core.Core
	mcp *acceptProbe

	mcpLim, sockLim *connlimit.Limiter
	as              *api.Server
	ms              *mcpserver.Server
	errc            chan error
	serving         sync.WaitGroup

	reloadMu sync.Mutex // one reload at a time, also outside lifecycle (tests)
}

// Start loads the config at path, opens the board and coord.db, and binds
// the unix socket and the MCP port (in the calling thread's network
// namespace); Serve then serves them.
func Start(path string, log *slog.Logger, o Options) (d *Daemon, err error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.State.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	if o.PeerUID == nil {
		o.PeerUID = mcpserver.PeerUID
	}
	if o.InNetns == nil {
		o.InNetns = func(f func()) { f() }
	}
	d = &Daemon{path: path, log: log, o: o, errc: make(chan error, 2)}
	var closers []func() error
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				closers[i]()
			}
		}
	}()
	if d.be, err = OpenBackend(cfg, time.Now); err != nil {
		return nil, err
	}
	closers = append(closers, d.be.Close)
	if d.aw, err = audit.Open(cfg.Audit.Path, cfg.Audit.MaxSizeMB, cfg.Audit.Keep); err != nil {
		return nil, err
	}
	closers = append(closers, d.aw.Close)
	if d.c, err = core.New(cfg, d.be, log, time.Now); err != nil {
		return nil, err
	}
	closers = append(closers, d.c.Close)
	uln, err := api.Listen(cfg.Socket.Path)
	if err != nil {
		return nil, err
	}
	closers = append(closers, uln.Close)
	mln, err := net.Listen("tcp", cfg.MCPAddr.String())
	if err != nil {
		return nil, fmt.Errorf("mcp listen %s: %w", cfg.MCPAddr, err)
	}
	d.mcp = newAcceptProbe(mln, o.PeerUID)
	d.mcpLim = connlimit.New(cfg.MCP.Conns.PerUID, cfg.MCP.Conns.Total)
	d.sockLim = connlimit.New(cfg.Socket.Conns.PerUID, cfg.Socket.Conns.Total)
	d.as = api.New(d.c, d.aw)
	d.ms = mcpserver.New(d.c, d.aw, mcpserver.Options{PeerUID: o.PeerUID})
	d.serve("unix socket", func() error { return d.as.Serve(Admit(uln, "socket.conns", d.sockLim, unixPeerUID, d.c, d.aw)) })
	d.serve("mcp endpoint", func() error {
		return d.ms.Serve(Admit(d.mcp, "mcp.conns", d.mcpLim, o.PeerUID, d.c, d.aw))
	})
	return d, nil
}

// serve runs one listener's server; an error it ends with fails the
// daemon (lifecycle's Failed).
func (d *Daemon) serve(name string, serve func() error) {
	d.serving.Add(1)
	go func() {
		defer d.serving.Done()
		if err := serve(); err != nil {
			d.errc <- fmt.Errorf("%s: %w", name, err)
		}
	}()
}

// Serve serves until ctx is done or a listener fails, then drains and
// closes everything Start opened.
func (d *Daemon) Serve(ctx context.Context) error {
	defer d.be.Close()
	defer d.aw.Close()
	defer d.c.Close()
	cfg := d.c.Config()
	rctx, stop := context.WithCancel(context.Background())
	defer stop()
	coreDone := make(chan struct{})
	go func() { d.c.Run(rctx); close(coreDone) }()

	d.aw.Write(&audit.Record{Component: "coord", Event: "start", Decision: audit.Allow,
		Reason: fmt.Sprintf("%s board, %d agents, mcp %s", d.be.Kind(), len(cfg.Agents), cfg.MCPAddr)})
	d.log.Info("coord serving", "backend", d.be.Kind(), "socket", cfg.Socket.Path, "mcp", cfg.MCPAddr.String(),
		"admin", cfg.Admin.Socket, "agents", len(cfg.Agents))
	err := lifecycle.Run(ctx, lifecycle.Service{
		Name:     "coord",
		Log:      d.log,
		Admin:    cfg.Admin.Socket,
		Probe:    d.Probe,
		Degraded: d.c.DiskFull,
		Reload:   d.Reload,
		Status:   d.status,
		Metrics:  d.metrics,
		Drain: func(dctx context.Context) error {
			stop()
			err := errors.Join(d.as.Shutdown(dctx), d.ms.Shutdown(dctx))
			d.serving.Wait()
			select {
			case <-coreDone:
			case <-dctx.Done():
				return errors.Join(err, fmt.Errorf("outbox worker: %w", dctx.Err()))
			}
			return err
		},
		DrainTimeout: ShutdownTimeout,
		Failed:       d.errc,
		Signals:      d.o.Signals,
		ProbeEvery:   d.o.ProbeEvery,
	})
	stop()
	<-coreDone
	if n := len(d.c.Queued()); n > 0 {
		d.log.Warn("stopping with reports still queued; they are kept and sent after restart", "queued", n)
	}
	return err
}
