// Package daemon is `runner run`: it loads runner.toml, brings up the
// agent's tmux session, tells systemd it is ready, then loops iterations of
// the agent's CLI (internal/loop), each supervised by internal/supervise and
// recorded in the state directory (shared/runstate). It pings systemd's
// watchdog only while the loop keeps beating. Only runner imports it.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/user"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clemhq/clem/runner/internal/agentcmd"
	"github.com/clemhq/clem/runner/internal/clock"
	"github.com/clemhq/clem/runner/internal/config"
	"github.com/clemhq/clem/runner/internal/loop"
	"github.com/clemhq/clem/runner/internal/schedule"
	"github.com/clemhq/clem/runner/internal/supervise"
	"github.com/clemhq/clem/runner/internal/tmux"
	"github.com/clemhq/clem/shared/coordapi"
	"github.com/clemhq/clem/shared/runstate"
	"github.com/clemhq/clem/shared/sdnotify"
)

// healthWindow: the loop must have beaten this recently for a WATCHDOG ping.
const healthWindow = time.Minute

// Daemon is one running runner.
type Daemon struct {
	cfg   *config.Config
	log   *slog.Logger
	clock clock.Clock
	id    agentcmd.Identity
	coord *coordapi.Client // nil without coord_socket
	tmux  *tmux.Server
	sup   *supervise.Supervisor
	self  string // this binary, for the pane and view windows
	sched schedule.Schedule
	// warning leads every STATUS line: the port block is not protected.
	warning string

	mu       sync.Mutex // st
	st       runstate.State
	lastBeat atomic.Int64 // unix nanoseconds
	writeErr atomic.Bool  // the last state write failed
}

// Run runs the runner with the config at path until ctx ends.
func Run(ctx context.Context, path string, log *slog.Logger) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	warning, err := confineBinds(cfg, log)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the runner binary: %w", err)
	}
	d, err := New(cfg, log, self)
	if err != nil {
		return err
	}
	d.warning = warning
	return d.Run(ctx)
}

// New prepares a Daemon: who it runs as, its directories and the state of
// a previous run.
func New(cfg *config.Config, log *slog.Logger, self string) (*Daemon, error) {
	id, err := identity(cfg)
	if err != nil {
		return nil, err
	}
	for _, dir := range []string{filepath.Join(cfg.StateDir, "run"), filepath.Join(cfg.StateDir, "tmp")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("state directory: %w", err)
		}
		os.Chmod(dir, 0o700)
	}
	d := &Daemon{
		cfg: cfg, log: log, clock: clock.Real{}, id: id, self: self,
		sched: schedule.Schedule{Day: cfg.Iteration.Duration, Night: cfg.NightInterval, NightStart: cfg.NightStart,
			NightEnd: cfg.NightEnd, Jitter: cfg.JitterFrac, BackoffMax: cfg.BackoffMax.Duration},
	}
	if cfg.CoordSocket != "" {
		d.coord = coordapi.NewClient(cfg.CoordSocket)
	}
	d.tmux = &tmux.Server{Bin: cfg.TmuxBin, Socket: runstate.TmuxSocketPath(cfg.StateDir), Session: cfg.TmuxSession,
		Env: []string{"HOME=" + id.Home, "USER=" + id.User, "LOGNAME=" + id.User, "PATH=" + pathOr(os.Getenv("PATH")),
			"LANG=C.UTF-8", "SHELL=/bin/sh", "TERM=tmux-256color"}}
	d.sup = &supervise.Supervisor{
		Launcher: paneLauncher{d}, SocketDir: filepath.Join(cfg.StateDir, "run"),
		StallTimeout: cfg.StallTimeout.Duration, MaxIteration: cfg.MaxIteration.Duration, KillGrace: cfg.KillGrace.Duration,
		Beat: d.beat,
	}
	prev, err := runstate.Read(runstate.StatePath(cfg.StateDir))
	switch {
	case err == nil:
		d.st = *prev
		d.st.Current, d.st.NextAt = nil, time.Time{}
	case errors.Is(err, fs.ErrNotExist):
	default:
		log.Warn("previous state file unreadable; starting afresh", "err", err)
	}
	d.st.Agent, d.st.PID, d.st.Phase = cfg.Agent, os.Getpid(), runstate.Starting
	return d, nil
}

// identity is who the CLI runs as: this process's user, HOME from the
// environment (systemd sets it from passwd), else passwd, else work_dir.
func identity(cfg *config.Config) (agentcmd.Identity, error) {
	u, err := user.Current()
	if err != nil {
		return agentcmd.Identity{}, fmt.Errorf("who am I: %w", err)
	}
	home := os.Getenv("HOME")
	if home == "" || home == "/" {
		home = u.HomeDir
	}
	if fi, err := os.Stat(home); err != nil || !fi.IsDir() {
		home = cfg.WorkDir
	}
	return agentcmd.Identity{User: u.Username, Home: home}, nil
}

func pathOr(p string) string {
	if p == "" {
		return agentcmd.DefaultPath
	}
	return p
}

// Run brings up tmux, notifies systemd and loops until ctx ends.
func (d *Daemon) Run(ctx context.Context) error {
	d.beat()
	d.save()
	view := []string{d.self, "view", "--state", d.cfg.StateDir}
	if err := d.tmux.Start(ctx, view); err != nil {
		return fmt.Errorf("agent %s: tmux session %s: %w", d.cfg.Agent, d.cfg.TmuxSession, err)
	}
	defer d.tmux.Kill(context.Background())
	d.log.Info("runner ready", "agent", d.cfg.Agent, "runtime", d.cfg.Runtime, "tmux", d.tmux.Socket,
		"iteration", d.cfg.Iteration.Duration.String(), "iteration_night", d.cfg.NightInterval.String(), "coord", d.cfg.CoordSocket != "")
	sdnotify.Ready()
	d.notifyStatus()
	go sdnotify.RunWatchdog(ctx, d.healthy)
	go d.statusLoop(ctx)

	d.mu.Lock()
	failures := d.st.ConsecutiveFailures
	first := d.firstDelay(d.clock.Now())
	d.mu.Unlock()
	l := &loop.Loop{
		Clock: d.clock, Schedule: d.sched, Rand: rand.Float64, MinGap: d.cfg.MinGapD,
		Iterate: d.iterate, Sleeping: d.sleeping, Beat: d.beat, Failures: failures, FirstDelay: first,
	}
	if d.coord != nil {
		l.Wake = d.coord
	}
	err := l.Run(ctx)
	sdnotify.Stopping()
	d.mu.Lock()
	d.st.Phase, d.st.Current, d.st.NextAt = runstate.Stopping, nil, time.Time{}
	d.mu.Unlock()
	d.save()
	d.log.Info("runner stopped", "agent", d.cfg.Agent)
	return err
}

// firstDelay keeps the schedule across restarts: the rest of the wait after
// the last recorded iteration, at most one interval.
func (d *Daemon) firstDelay(now time.Time) time.Duration {
	if d.st.Last == nil || d.st.Last.Ended.IsZero() {
		return 0
	}
	due := d.st.Last.Ended.Add(d.sched.Delay(d.st.Last.Ended, d.st.ConsecutiveFailures, 0.5))
	return min(max(due.Sub(now), 0), d.sched.Interval(now))
}

func (d *Daemon) beat() { d.lastBeat.Store(d.clock.Now().UnixNano()) }

// healthy is the watchdog probe: the loop beat recently and the state file
// could be written.
func (d *Daemon) healthy() bool {
	last := time.Unix(0, d.lastBeat.Load())
	return d.clock.Now().Sub(last) < healthWindow && !d.writeErr.Load()
}

func (d *Daemon) sleeping(p runstate.Phase, next time.Time) {
	d.mu.Lock()
	d.st.Phase, d.st.NextAt, d.st.Current = p, next, nil
	d.mu.Unlock()
	d.save()
	d.notifyStatus()
}

// save writes the state file; a failure is logged once and makes the
// daemon unhealthy until a write succeeds.
func (d *Daemon) save() {
	d.mu.Lock()
	d.st.Updated = d.clock.Now().UTC()
	st := d.st
	if st.Current != nil {
		c := *st.Current
		st.Current = &c
	}
	d.mu.Unlock()
	err := runstate.Write(d.cfg.StateDir, &st)
	if err != nil && !d.writeErr.Swap(true) {
		d.log.Error("cannot write the state file", "err", err)
	}
	if err == nil {
		d.writeErr.Store(false)
	}
}

// statusLoop refreshes STATUS when its line changes and, while an
// iteration runs, the state file when new events came (each save is a
// synced atomic write) or at least every stateEvery, so readers see a
// fresh Updated time.
func (d *Daemon) statusLoop(ctx context.Context) {
	const stateEvery = 30 * time.Second
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	var lastLine string
	var lastEvents int
	var lastSave time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.mu.Lock()
			events := -1
			if d.st.Phase == runstate.Running && d.st.Current != nil {
				events = d.st.Current.Events
			}
			line := d.statusLine()
			d.mu.Unlock()
			if events >= 0 && (events != lastEvents || time.Since(lastSave) >= stateEvery) {
				d.save()
				lastEvents, lastSave = events, time.Now()
			}
			if line != lastLine {
				sdnotify.Status("%s", line)
				lastLine = line
			}
		}
	}
}

// notifyStatus sends the STATUS line now (at a change of phase).
func (d *Daemon) notifyStatus() {
	d.mu.Lock()
	s := d.statusLine()
	d.mu.Unlock()
	sdnotify.Status("%s", s)
}

// statusLine is StatusLine after the confinement warning, if any; d.mu held.
func (d *Daemon) statusLine() string {
	line := StatusLine(&d.st, d.clock.Now(), time.Local)
	if d.warning != "" {
		return "WARNING: " + d.warning + " | " + line
	}
	return line
}

// paneLauncher opens an iteration's window running `runner pane`.
type paneLauncher struct{ d *Daemon }

func (l paneLauncher) Launch(ctx context.Context, n int, socket string) error {
	name := fmt.Sprintf("iter-%d", n)
	return l.d.tmux.NewWindow(ctx, name, []string{l.d.self, "pane", "--socket", socket})
}
