// Package daemon wires coord together: config, backend, core, the unix API
// and the agents' MCP endpoint, the audit log, sd_notify, and shutdown.
// Only coord imports it.
package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/clemhq/clem/coord/internal/api"
	"github.com/clemhq/clem/coord/internal/config"
	"github.com/clemhq/clem/coord/internal/core"
	"github.com/clemhq/clem/coord/internal/mcpserver"
	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/sdnotify"
)

// ShutdownTimeout bounds how long open requests may finish.
const ShutdownTimeout = 10 * time.Second

// Run serves the config at path until ctx is cancelled.
func Run(ctx context.Context, path string, log *slog.Logger) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.State.Dir, 0o700); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	be, err := OpenBackend(cfg, time.Now)
	if err != nil {
		return err
	}
	defer be.Close()
	aw, err := audit.Open(cfg.Audit.Path, cfg.Audit.MaxSizeMB, cfg.Audit.Keep)
	if err != nil {
		return err
	}
	defer aw.Close()
	c, err := core.New(cfg, be, log, time.Now)
	if err != nil {
		return err
	}
	defer c.Close()

	uln, err := api.Listen(cfg.Socket.Path)
	if err != nil {
		return err
	}
	mln, err := net.Listen("tcp", cfg.MCPAddr.String())
	if err != nil {
		uln.Close()
		return fmt.Errorf("mcp listen %s: %w", cfg.MCPAddr, err)
	}
	as, ms := api.New(c, aw), mcpserver.New(c, aw, mcpserver.Options{})
	errc := make(chan error, 2)
	go func() {
		errc <- fmt.Errorf("unix socket: %w", as.Serve(Admit(uln, "socket.conns", cfg.Socket.Conns, unixPeerUID, c, aw)))
	}()
	go func() {
		errc <- fmt.Errorf("mcp endpoint: %w", ms.Serve(Admit(mln, "mcp.conns", cfg.MCP.Conns, mcpserver.PeerUID, c, aw)))
	}()
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	coreDone := make(chan struct{})
	go func() { c.Run(rctx); close(coreDone) }()

	sdnotify.Ready()
	sdnotify.Status("serving: %s board, %d agents, mcp %s", be.Kind(), len(cfg.Agents), cfg.MCPAddr)
	log.Info("coord serving", "backend", be.Kind(), "socket", cfg.Socket.Path, "mcp", cfg.MCPAddr.String(), "agents", len(cfg.Agents))
	go sdnotify.RunWatchdog(rctx, func() bool { return probe(c, cfg.MCPAddr.String()) })
	go reportQueue(rctx, c, be.Kind())

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	sdnotify.Stopping()
	stop()
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	as.Shutdown(sctx)
	ms.Shutdown(sctx)
	<-coreDone
	if n := len(c.Queued()); n > 0 {
		log.Warn("stopping with reports still queued; they are kept and sent after restart", "queued", n)
	}
	return runErr
}

// probe is the watchdog's health check: coord.db answers and the MCP port
// accepts.
func probe(c *core.Core, addr string) bool {
	if c.Healthy() != nil {
		return false
	}
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// reportQueue keeps systemd's STATUS line telling whether reports wait.
func reportQueue(ctx context.Context, c *core.Core, kind string) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	last := -1
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := len(c.Queued())
		if n == last {
			continue
		}
		last = n
		if n == 0 {
			sdnotify.Status("serving: %s board, nothing queued", kind)
		} else {
			sdnotify.Status("serving: %s board unavailable, %d reports queued for retry", kind, n)
		}
	}
}
