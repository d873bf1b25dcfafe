package egress

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/google/nftables"

	"github.com/clemhq/clem/shared/egressstate"
)

// DefaultPeriod is how often the guard compares the table when no change
// event arrived: a backstop for events the kernel dropped (a full socket
// buffer) or a monitor that broke, not the main path.
const DefaultPeriod = 2 * time.Second

// GuardConfig is what a Guard watches and where it reports.
type GuardConfig struct {
	Project   string
	Spec      Spec
	StatePath string        // the egressstate file the watchdog reads; "" writes none
	Period    time.Duration // the backstop check; 0 means DefaultPeriod
	Log       *slog.Logger  // nil: slog.Default()
	// Ready is called once, on Run's goroutine, when the table is in place
	// and every later change to it will be seen (sd_notify READY).
	Ready func()
	// Status is called after each check whose outcome or counts changed
	// (sd_notify STATUS); it may be nil.
	Status func(egressstate.State)

	noEvents bool // tests: rely on the period alone
}

// A Guard keeps the project's table in place while agents run. It applies
// the table, then compares the live table with it on every nftables change
// the kernel announces (NFNLGRP_NFTABLES) and every Period; a difference
// is logged, counted once in the state file (the watchdog alerts on the
// new count) and repaired at once by applying the table again.
type Guard struct {
	cfg   GuardConfig
	log   *slog.Logger
	want  snapshot // the table as the kernel reported it right after our own apply
	state egressstate.State
	probe chan chan error
}

// NewGuard checks cfg; Run does the work.
func NewGuard(cfg GuardConfig) (*Guard, error) {
	if err := cfg.Spec.Validate(); err != nil {
		return nil, err
	}
	if cfg.Period <= 0 {
		cfg.Period = DefaultPeriod
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("table", "inet "+cfg.Spec.Table)
	return &Guard{cfg: cfg, log: log, probe: make(chan chan error)}, nil
}

// Run applies the table and guards it until ctx ends (nil) or guarding
// becomes impossible (netlink failing, a restore the kernel refuses): then
// it returns the error and systemd restarts the guard. Like every function
// of this package it acts in the network namespace of the calling thread,
// so it must run on one (a locked goroutine, or any thread of a process
// that never changes namespace).
func (g *Guard) Run(ctx context.Context) error {
	g.resume()
	// Listen before applying, so no change after our apply goes unseen.
	events, closeEvents, err := g.listen()
	if err != nil {
		return err
	}
	defer func() { closeEvents() }()

	if err := g.applyReference(); err != nil {
		return err
	}
	g.state.Checked, g.state.OK, g.state.RestoreError = time.Now(), true, ""
	if err := g.saveStatus(true); err != nil {
		return err
	}
	g.log.Info("egress table applied; guarding it", "agents", len(g.cfg.Spec.Agents), "period", g.cfg.Period.String())
	if g.cfg.Ready != nil {
		g.cfg.Ready()
	}

	tick := time.NewTicker(g.cfg.Period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok || ev.GeneratedBy == nil || ev.GeneratedBy.Error != nil {
				// The monitor ended (usually ENOBUFS: events were lost).
				// Check, since a change may be among them, then listen anew.
				g.log.Warn("nftables change events interrupted; checking and listening again", "error", monitorErr(ev, ok))
				closeEvents()
				if events, closeEvents, err = g.listen(); err != nil {
					return err
				}
				if err := g.check("events interrupted"); err != nil {
					return err
				}
				continue
			}
			if err := g.check(who(ev)); err != nil {
				return err
			}
		case <-tick.C:
			if err := g.check("periodic check"); err != nil {
				return err
			}
		case reply := <-g.probe:
			err := g.check("health probe")
			reply <- err
			if err != nil {
				return err
			}
		}
	}
}

// Healthy asks Run's loop to compare the table now (restoring it if need
// be) and reports whether it matches afterwards. It blocks while the loop
// is busy, so a hung loop makes it hang too and systemd's watchdog, which
// it feeds, fires.
func (g *Guard) Healthy(ctx context.Context) bool {
	reply := make(chan error, 1)
	select {
	case g.probe <- reply:
	case <-ctx.Done():
		return false
	}
	select {
	case err := <-reply:
		return err == nil
	case <-ctx.Done():
		return false
	}
}

// listen subscribes to the kernel's nftables change events. The
// generational monitor delivers one batch per committed transaction, so a
// tamper (one commit) is checked once however many objects it touched.
func (g *Guard) listen() (<-chan *nftables.MonitorEvents, func(), error) {
	if g.cfg.noEvents {
		return nil, func() {}, nil
	}
	c, err := nftables.New()
	if err != nil {
		return nil, nil, fmt.Errorf("egress guard: nftables change events: %w", err)
	}
	mon := nftables.NewMonitor(nftables.WithMonitorEventBuffer(64))
	events, err := c.AddGenerationalMonitor(mon)
	if err != nil {
		return nil, nil, fmt.Errorf("egress guard: subscribe to nftables change events: %w", err)
	}
	closed := false
	return events, func() {
		if closed {
			return
		}
		closed = true
		mon.Close()
		// The monitor's goroutine may be blocked handing us a batch.
		go func() {
			for range events {
			}
		}()
	}, nil
}

func monitorErr(ev *nftables.MonitorEvents, ok bool) string {
	switch {
	case !ok:
		return "monitor closed"
	case ev.GeneratedBy == nil:
		return "a batch without its generation"
	}
	return ev.GeneratedBy.Error.Error()
}

// who names the process that committed a change, for the log.
func who(ev *nftables.MonitorEvents) string {
	if gen, ok := ev.GeneratedBy.Data.(*nftables.GenMsg); ok && gen != nil {
		return fmt.Sprintf("change by %s[%d] (generation %d)", gen.ProcComm, gen.ProcPID, gen.ID)
	}
	return "change event"
}

// applyReference applies the table and keeps the kernel's reading of it as
// the reference later checks compare with. The reading must be of our
// commit and nothing else: the ruleset generation must be exactly one past
// the one read before applying, else someone committed in between and it
// tries again. (Verify builds its reference in a scratch namespace
// instead, which needs CAP_SYS_ADMIN; the guard's unit has CAP_NET_ADMIN
// only.)
func (g *Guard) applyReference() error {
	s := g.cfg.Spec
	c, err := dial()
	if err != nil {
		return fmt.Errorf("egress guard: %w", err)
	}
	defer c.Close()
	for range 10 {
		before, err := genID(c)
		if err != nil {
			return fmt.Errorf("egress guard: %w", err)
		}
		if err := Apply(s); err != nil {
			return fmt.Errorf("egress guard: %w", err)
		}
		snap, gen, err := snapshotAt(s.Table)
		if err != nil {
			return fmt.Errorf("egress guard: %w", err)
		}
		if gen == before+1 && snap.table != nil {
			g.want = snap
			return nil
		}
	}
	return fmt.Errorf("egress guard: table inet %s: other nftables changes kept landing between applying the table and reading it back", s.Table)
}

// check compares the live table with the reference; on a difference it
// records the tamper, restores the table and records the restore. An
// error means guarding is impossible (Run returns it).
func (g *Guard) check(why string) error {
	table := g.cfg.Spec.Table
	got, _, err := snapshotAt(table)
	if err != nil {
		return fmt.Errorf("egress guard: %w", err)
	}
	now := time.Now()
	diffs := compare(table, g.want, got)
	if len(diffs) == 0 {
		changed := !g.state.OK
		g.state.Checked, g.state.OK = now, true
		return g.saveStatus(changed)
	}
	diff := (&DiffError{Table: table, Diffs: diffs}).Error()
	g.state.Checked, g.state.OK = now, false
	g.state.Tampered++
	g.state.LastTamper, g.state.LastDiff = now, diff
	g.log.Warn("egress table tampered with; restoring it", "found_by", why, "tampered", g.state.Tampered, "diff", diffs)
	// Saved before the restore, so the watchdog learns of it even if the
	// restore fails.
	if err := g.saveStatus(true); err != nil {
		return err
	}

	err = Apply(g.cfg.Spec)
	if err == nil {
		if got, _, err = snapshotAt(table); err == nil {
			if d := compare(table, g.want, got); len(d) > 0 {
				err = &DiffError{Table: table, Diffs: d}
			}
		}
	}
	if err != nil {
		g.state.RestoreError = err.Error()
		g.log.Error("egress table not restored", "error", err)
		if serr := g.saveStatus(true); serr != nil {
			return errors.Join(err, serr)
		}
		return fmt.Errorf("egress guard: restore: %w", err)
	}
	g.state.Checked, g.state.OK = time.Now(), true
	g.state.Restored++
	g.state.LastRestore, g.state.RestoreError = g.state.Checked, ""
	g.log.Info("egress table restored", "restored", g.state.Restored)
	return g.saveStatus(true)
}

// resume continues the counters of an earlier run of this guard (a
// restart), so the watchdog, which alerts on a count that grew, neither
// misses a tamper nor sees counters go backwards.
func (g *Guard) resume() {
	g.state = egressstate.State{Project: g.cfg.Project}
	if g.cfg.StatePath == "" {
		return
	}
	prev, err := egressstate.Read(g.cfg.StatePath)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			g.log.Warn("egress state file unreadable; counting from zero", "path", g.cfg.StatePath, "error", err)
		}
		return
	}
	if prev.Project == g.cfg.Project {
		g.state.Tampered, g.state.LastTamper, g.state.LastDiff = prev.Tampered, prev.LastTamper, prev.LastDiff
		g.state.Restored, g.state.LastRestore = prev.Restored, prev.LastRestore
	}
}

func (g *Guard) saveStatus(changed bool) error {
	if err := g.save(); err != nil {
		return err
	}
	if changed && g.cfg.Status != nil {
		g.cfg.Status(g.state)
	}
	return nil
}

func (g *Guard) save() error {
	if g.cfg.StatePath == "" {
		return nil
	}
	if err := egressstate.Write(g.cfg.StatePath, &g.state); err != nil {
		return fmt.Errorf("egress guard: write state %s: %w", g.cfg.StatePath, err)
	}
	return nil
}
