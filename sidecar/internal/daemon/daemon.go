// Package daemon wires sidecar together: config and secrets, one loopback
// listener and relay per server, the children's directories, the audit log,
// and its life under shared/lifecycle: the admin socket, reload on SIGHUP or
// POST /reload (a bad config is rejected and the old one keeps serving), a
// health probe that goes through every port and child, sd_notify and the
// drain at shutdown. Only sidecar imports it.
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
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/connlimit"
	"github.com/clemhq/clem/shared/lifecycle"
	"github.com/clemhq/clem/shared/peer"
	"github.com/clemhq/clem/shared/selfprobe"
	"github.com/clemhq/clem/sidecar/internal/config"
	"github.com/clemhq/clem/sidecar/internal/relay"
)

// ShutdownTimeout bounds how long open requests may finish at shutdown
// (and on a reload that closes a port); it stays under the unit's
// TimeoutStopSec, and a child's stop (stdin closed, SIGTERM, SIGKILL) fits.
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

	mu    gate // serialises reloads and Close; the probe waits on it within its deadline
	ports map[string]*port
	// retiring counts ports and relays a reload retired, still finishing
	// their calls in the background; Close waits for them.
	retiring sync.WaitGroup
	// view is d.ports published for Degraded and Metrics, which must
	// answer even while a wedged reload holds mu.
	view atomic.Pointer[portSet]
	// probes are the health probe's connections, answered by every
	// port's admitter.
	probes *selfprobe.Expected
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
	d := &Daemon{path: path, opts: o, mu: newGate(), ports: map[string]*port{}, probes: new(selfprobe.Expected), failed: make(chan error, 1)}
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
	d.publish()
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
	p.admit.Probes = d.probes
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
	d.mu.lock()
	defer d.mu.unlock()
	if p := d.ports[server]; p != nil {
		return p.ln.Addr().String()
	}
	return ""
}

// Relay is server's relay (nil if none).
func (d *Daemon) Relay(server string) *relay.Relay {
	d.mu.lock()
	defer d.mu.unlock()
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
	d.mu.lock()
	defer d.mu.unlock()
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
	d.publish()
	// Old ports and relays go in the background: open calls may finish.
	d.retiring.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		for _, p := range closed {
			p.srv.Shutdown(ctx)
			p.admit.Close()
		}
		for _, rl := range retired {
			rl.Close()
		}
	})
	return nil
}

// Close stops serving, stops every child and closes the audit log, giving
// open calls ShutdownTimeout to finish.
func (d *Daemon) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	d.Shutdown(ctx)
}

// Shutdown stops accepting, lets open calls finish until ctx ends, then
// stops every child (each stop bounded: stdin closed, SIGTERM, SIGKILL) and
// closes the audit log. It returns ctx's error if calls were cut short.
func (d *Daemon) Shutdown(ctx context.Context) error {
	d.mu.lock()
	defer d.mu.unlock()
	if d.ports == nil {
		return nil
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
	d.retiring.Wait()
	d.ports = nil
	d.publish()
	d.cleanup()
	return ctx.Err()
}

func (d *Daemon) cleanup() {
	if d.removeDir {
		os.RemoveAll(d.childrenDir)
	}
	d.aw.Close()
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

// Run serves the config at path until ctx is cancelled or a port fails,
// under shared/lifecycle: READY once every port is bound, WATCHDOG while
// Probe passes, reload on SIGHUP or POST /reload, the admin socket at
// [admin] socket, and a drain at the end.
func Run(ctx context.Context, path string, log *slog.Logger) error {
	d, err := Start(path, Options{Log: log})
	if err != nil {
		return err
	}
	return d.Serve(ctx, nil)
}

// Serve hands d to lifecycle.Run until ctx ends or a port fails, then
// shuts it down. signals replaces SIGHUP (tests); nil listens for it.
func (d *Daemon) Serve(ctx context.Context, signals <-chan os.Signal) error {
	return lifecycle.Run(ctx, lifecycle.Service{
		Name:     "sidecar",
		Log:      d.opts.Log,
		Admin:    d.cfg.Load().File.Admin.Socket,
		Probe:    d.Probe,
		Degraded: d.Degraded,
		Reload:   d.Reload,
		Status:   func() string { return "serving " + d.summary(d.cfg.Load()) },
		Metrics:  d.Metrics,
		Drain: func(ctx context.Context) error {
			d.opts.Log.Info("stopping: closing ports and children")
			return d.Shutdown(ctx)
		},
		DrainTimeout: ShutdownTimeout,
		Failed:       d.failed,
		Signals:      signals,
	})
}
