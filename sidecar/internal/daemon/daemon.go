// Package daemon wires sidecar together: config and secrets, one loopback
// listener and relay per server, the children's directories, the audit log,
// the admin socket, reload on SIGHUP or POST /reload (a bad config is
// rejected and the old one keeps serving), sd_notify and shutdown. Only
// sidecar imports it.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/clemhq/clem/shared/admin"
	"golang.org/x/sys/unix"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/connlimit"
	"github.com/clemhq/clem/shared/peer"
	"github.com/clemhq/clem/shared/sdnotify"
	"github.com/clemhq/clem/sidecar/internal/config"
	"github.com/clemhq/clem/sidecar/internal/relay"
)

// ShutdownTimeout bounds how long open requests may finish at shutdown.
const ShutdownTimeout = 10 * time.Second

// Options are the daemon's seams; the zero value is production.
type Options struct {
	Log *slog.Logger
	// Identify finds a connection's uid; default peer.TCPPeerUIDAddr.
	Identify relay.IdentifyFunc
	// Listen binds a server's address; default net.Listen("tcp", addr).
	// Tests bind inside a network namespace with it.
	Listen func(addr string) (net.Listener, error)
}

// Daemon is a running sidecar.
type Daemon struct {
	path        string
	opts        Options
	aw          *audit.Writer
	cfg         atomic.Pointer[config.Config]
	childrenDir string
	removeDir   bool

	mu    sync.Mutex // serialises reloads and Close
	ports map[string]*port
	admin *http.Server
	// failed hears a port that stopped serving for any reason but Close:
	// Run then ends with an error naming it, so the unit fails loudly.
	failed chan error
}

// port is one server's listener; its relay is swapped on reload.
type port struct {
	listen string
	ln     net.Listener
	srv    *http.Server
	relay  atomic.Pointer[relay.Relay]
	lim    *connlimit.Limiter
	admit  *relay.Admitter
}

// Start loads the config at path, binds every server's port and starts
// their backends. Children start in the background; calls wait for them.
func Start(path string, o Options) (*Daemon, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if o.Identify == nil {
		o.Identify = func(l, r netip.AddrPort) (uint32, error) { uid, _, err := peer.TCPPeerUIDAddr(l, r); return uid, err }
	}
	if o.Listen == nil {
		o.Listen = func(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	d := &Daemon{path: path, opts: o, ports: map[string]*port{}, failed: make(chan error, 1)}
	d.cfg.Store(cfg)
	if d.aw, err = audit.Open(cfg.File.Audit.Path, cfg.File.Audit.MaxSizeMB, cfg.File.Audit.Keep); err != nil {
		return nil, err
	}
	// A backstop under the per-rule flood summaries: no uid's records
	// can rotate another's out of the log.
	d.aw.LimitFloods(audit.DefaultFloodRecords, audit.DefaultFloodWindow)
	if err := d.makeChildrenDir(cfg); err != nil {
		d.aw.Close()
		return nil, err
	}
	lns := map[string]net.Listener{}
	for _, sc := range cfg.Servers {
		ln, err := o.Listen(sc.Listen)
		if err != nil {
			closeAll(lns)
			d.cleanup()
			return nil, bindError(sc, err)
		}
		lns[sc.Name] = ln
	}
	for _, sc := range cfg.Servers {
		d.ports[sc.Name] = d.serve(sc, lns[sc.Name], relay.New(sc, d.relayOptions()))
	}
	if s := cfg.File.Admin.Socket; s != "" {
		if d.admin, err = admin.Listen(s, admin.Handlers{Healthy: d.Healthy, Reload: d.Reload}); err != nil {
			d.Close()
			return nil, err
		}
	}
	d.aw.Write(&audit.Record{Component: relay.Component, Event: "start", Decision: audit.Allow, Reason: d.summary(cfg) + "; limits: " + cfg.Limits.String()})
	o.Log.Info("sidecar serving", "config", path, "servers", len(cfg.Servers), "children_dir", d.childrenDir)
	return d, nil
}

func (d *Daemon) relayOptions() relay.Options {
	return relay.Options{Audit: d.aw, Log: d.opts.Log, Identify: d.opts.Identify, ChildrenDir: d.childrenDir,
		Agents: d.agents, Limits: func() config.Limits { return d.cfg.Load().Limits }}
}

// makeChildrenDir picks where children's private directories live:
// children.dir, else $RUNTIME_DIRECTORY/children (systemd
// RuntimeDirectory=), else a private temporary directory removed at exit.
func (d *Daemon) makeChildrenDir(cfg *config.Config) error {
	dir := cfg.File.Children.Dir
	if dir == "" {
		if rt := os.Getenv("RUNTIME_DIRECTORY"); rt != "" {
			dir = filepath.Join(strings.Split(rt, ":")[0], "children")
		}
	}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "sidecar-children-")
		if err != nil {
			return fmt.Errorf("children directory: %w", err)
		}
		d.childrenDir, d.removeDir = tmp, true
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("children directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("children directory: %w", err)
	}
	d.childrenDir = dir
	return nil
}

func (d *Daemon) agents() map[uint32]string { return d.cfg.Load().Agents }

// serve starts serving sc on ln. Every connection is admitted first (the
// per-uid and total caps of [limits], by the kernel's uid); headers are
// bounded in size and time, idle keep-alive connections are closed.
func (d *Daemon) serve(sc *config.ServerConfig, ln net.Listener, rl *relay.Relay) *port {
	cfg := d.cfg.Load()
	lim := cfg.Limits
	p := &port{listen: sc.Listen, ln: ln}
	p.relay.Store(rl)
	p.lim = connlimit.New(connCaps(lim, len(cfg.Servers)))
	p.admit = relay.NewAdmitter(sc.Name, p.lim, d.opts.Identify, d.agents, d.aw)
	mux := http.NewServeMux()
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) { p.relay.Load().ServeHTTP(w, r) })
	p.srv = &http.Server{Handler: mux, ConnContext: relay.ConnContext,
		ReadHeaderTimeout: lim.HeaderTimeout.Duration, MaxHeaderBytes: lim.MaxHeaderBytes, IdleTimeout: lim.IdleTimeout.Duration,
		ErrorLog: slog.NewLogLogger(d.opts.Log.Handler(), slog.LevelWarn)}
	go func() {
		err := p.srv.Serve(p.admit.Listen(ln))
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			err = fmt.Errorf("server %s on %s stopped serving: %w", sc.Name, sc.Listen, err)
			d.opts.Log.Error("server stopped", "server", sc.Name, "listen", sc.Listen, "err", err)
			select {
			case d.failed <- err:
			default:
			}
		}
	}()
	return p
}

// connCaps are lim's connection caps for one of n ports, the total lowered
// to what the process's descriptor limit can carry shared by n ports (the
// children's pipes, the audit file and the admin socket need some): past it
// accept would fail with EMFILE for everyone instead of refusing the caller
// that holds too much.
func connCaps(lim config.Limits, n int) (perUID, total int) {
	perUID, total = lim.MaxConnsPerUID, lim.MaxConns
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil && rl.Cur < math.MaxInt32 {
		if fit := (int(rl.Cur) - 128) / max(n, 1); fit > 0 && fit < total {
			total = fit
		}
	}
	return min(perUID, total), total
}

// bindError says which server could not have which port, so a squatted or
// taken port is a loud failure naming it.
func bindError(sc *config.ServerConfig, err error) error {
	return fmt.Errorf("server %s: cannot listen on %s (is another process holding the port?): %w", sc.Name, sc.Listen, err)
}

// Addr is the address server's port is bound to ("" if none).
func (d *Daemon) Addr(server string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p := d.ports[server]; p != nil {
		return p.ln.Addr().String()
	}
	return ""
}

// Relay is server's relay (nil if none).
func (d *Daemon) Relay(server string) *relay.Relay {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p := d.ports[server]; p != nil {
		return p.relay.Load()
	}
	return nil
}

// Reload re-reads the config. On any error nothing changes. Servers whose
// program, URL, identity, environment and secrets are unchanged keep their
// children; the others are restarted; new ports are bound before anything
// is committed.
func (d *Daemon) Reload() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.reload()
	rec := &audit.Record{Component: relay.Component, Event: "reload", Decision: audit.Allow, Reason: "reloaded"}
	if err != nil {
		rec.Decision, rec.Reason = audit.Deny, "rejected; the old config keeps serving: "+err.Error()
		d.opts.Log.Error("reload rejected; the old config keeps serving", "config", d.path, "err", err)
	} else {
		rec.Reason = "reloaded: " + d.summary(d.cfg.Load())
		d.opts.Log.Info("reloaded", "config", d.path, "servers", len(d.cfg.Load().Servers))
	}
	d.aw.Write(rec)
	return err
}

func (d *Daemon) reload() error {
	if d.ports == nil {
		return errors.New("sidecar is shutting down")
	}
	next, err := config.Load(d.path)
	if err != nil {
		return err
	}
	lns := map[string]net.Listener{}
	for _, sc := range next.Servers {
		if p := d.ports[sc.Name]; p != nil && p.listen == sc.Listen {
			continue
		}
		ln, err := d.opts.Listen(sc.Listen)
		if err != nil {
			closeAll(lns)
			return bindError(sc, err)
		}
		lns[sc.Name] = ln
	}
	d.cfg.Store(next)
	var retired []*relay.Relay
	var closed []*port
	keep := map[string]bool{}
	for _, sc := range next.Servers {
		keep[sc.Name] = true
		old := d.ports[sc.Name]
		if ln, ok := lns[sc.Name]; ok {
			var rl *relay.Relay
			if old != nil {
				closed = append(closed, old)
				if prev := old.relay.Load(); relay.SameBackend(prev.Config(), sc) {
					prev.Update(sc)
					rl = prev
				} else {
					retired = append(retired, prev)
				}
			}
			if rl == nil {
				rl = relay.New(sc, d.relayOptions())
				if old != nil {
					rl.KeepSessions(old.relay.Load())
				}
			}
			d.ports[sc.Name] = d.serve(sc, ln, rl)
			continue
		}
		if prev := old.relay.Load(); relay.SameBackend(prev.Config(), sc) {
			prev.Update(sc)
		} else {
			rl := relay.New(sc, d.relayOptions())
			rl.KeepSessions(prev)
			old.relay.Store(rl)
			retired = append(retired, prev)
		}
		old.lim.SetLimits(connCaps(next.Limits, len(next.Servers)))
	}
	for name, p := range d.ports {
		if !keep[name] {
			closed = append(closed, p)
			retired = append(retired, p.relay.Load())
			delete(d.ports, name)
		}
	}
	// Old ports and relays go in the background: open calls may finish.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		for _, p := range closed {
			p.srv.Shutdown(ctx)
			p.admit.Close()
		}
		for _, rl := range retired {
			rl.Close()
		}
	}()
	return nil
}

// Close stops serving, stops every child and closes the audit log.
func (d *Daemon) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if d.admin != nil {
		d.admin.Shutdown(ctx) // closing its listener unlinks the socket
	}
	var wg sync.WaitGroup
	for _, p := range d.ports {
		wg.Go(func() {
			p.srv.Shutdown(ctx)
			p.admit.Close()
			p.relay.Load().Close()
		})
	}
	wg.Wait()
	d.ports = nil
	d.cleanup()
}

func (d *Daemon) cleanup() {
	if d.removeDir {
		os.RemoveAll(d.childrenDir)
	}
	d.aw.Close()
}

// Healthy reports whether every server's port still accepts connections.
func (d *Daemon) Healthy() error {
	d.mu.Lock()
	addrs := map[string]string{}
	for name, p := range d.ports {
		addrs[name] = p.ln.Addr().String()
	}
	d.mu.Unlock()
	for name, a := range addrs {
		c, err := net.DialTimeout("tcp", a, 2*time.Second)
		if err != nil {
			return fmt.Errorf("server %s: %w", name, err)
		}
		c.Close()
	}
	return nil
}

func (d *Daemon) summary(cfg *config.Config) string {
	names := make([]string, len(cfg.Servers))
	for i, s := range cfg.Servers {
		names[i] = s.Name
	}
	return fmt.Sprintf("%d servers (%s) for %d agents", len(cfg.Servers), strings.Join(names, ", "), len(cfg.File.Clients))
}

func closeAll(lns map[string]net.Listener) {
	for _, ln := range lns {
		ln.Close()
	}
}

// Run serves the config at path until ctx is cancelled, reloading on SIGHUP.
func Run(ctx context.Context, path string, log *slog.Logger) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	d, err := Start(path, Options{Log: log})
	if err != nil {
		return err
	}
	defer d.Close()
	cfg := d.cfg.Load()
	sdnotify.Ready()
	sdnotify.Status("serving %s", d.summary(cfg))
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go sdnotify.RunWatchdog(wctx, func() bool { return d.Healthy() == nil })
	for {
		select {
		case <-hup:
			sdnotify.Reloading()
			d.Reload()
			sdnotify.Ready()
			sdnotify.Status("serving %s", d.summary(d.cfg.Load()))
		case err := <-d.failed:
			sdnotify.Status("failed: %v", err)
			return err
		case <-ctx.Done():
			sdnotify.Stopping()
			log.Info("stopping: closing ports and children")
			return nil
		}
	}
}
