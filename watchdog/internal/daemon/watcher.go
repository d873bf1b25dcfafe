// Package daemon runs the watchdog: every interval one round of checks
// (units over D-Bus, the runners' state files, the daemons' health
// sockets), the alert policy, alerts to coord with a queue for when coord
// is down, the journal, and sd_notify. Only the watchdog imports it.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clemhq/clem/shared/egressstate"
	"github.com/clemhq/clem/watchdog/internal/check"
	"github.com/clemhq/clem/watchdog/internal/config"
	"github.com/clemhq/clem/watchdog/internal/outbox"
	"github.com/clemhq/clem/watchdog/internal/policy"
	"github.com/clemhq/clem/watchdog/internal/statefile"
	"github.com/clemhq/clem/watchdog/internal/systemd"
)

// Clock tells the time; tests step a fake one.
type Clock interface{ Now() time.Time }

// SystemClock is the real clock.
type SystemClock struct{}

// Now implements Clock.
func (SystemClock) Now() time.Time { return time.Now() }

// Units reads a unit's state; *systemd.Reader is one, tests use fakes.
type Units interface {
	Unit(ctx context.Context, name string) (systemd.State, error)
}

// Prober asks a daemon's health socket; health.Probe is one.
type Prober func(ctx context.Context, socket string) error

// EgressReader reads the egress guard's state file; egressstate.Read is one.
type EgressReader func(path string) (*egressstate.State, error)

// Deps are the watcher's windows on the world.
type Deps struct {
	Units  Units
	States statefile.Reader
	Health Prober
	Egress EgressReader // used when the config names egress_state
	Clock  Clock
	Sender outbox.Sender
	Log    *slog.Logger
}

// Watcher runs rounds of checks for one config. Round, Flush, Status and
// Reconfigure are for one goroutine (the check loop); the counters may be
// read from any.
type Watcher struct {
	cfg     *config.Config
	d       Deps
	policy  *policy.Policy
	out     *outbox.Outbox
	subs    []*subject
	lastErr error

	// The state file (persist.go): what was last written where, and the
	// last write's error ("" when it worked).
	saved     []byte
	savedPath string
	saveErr   string

	rounds, blind, alerts, recoveries, suppressed, saveErrors atomic.Uint64
}

// subject is one agent or daemon being watched.
type subject struct {
	id, label string
	agent     *config.Agent
	daemon    *config.Daemon
	ac        *check.Agent
	dc        *check.Daemon
	eg        *check.Egress // the egress guard's daemon, when egress_state is set
	last      string        // summary of the last round's problems, "" when fine
}

// NewWatcher builds a watcher for cfg, with the alert state and waiting
// alerts an earlier process saved in cfg.StateFile.
func NewWatcher(cfg *config.Config, d Deps) *Watcher {
	w := &Watcher{cfg: cfg, d: d, policy: policy.New(cfg.Failures, cfg.Window, cfg.Cooldown), out: outbox.New(d.Sender, d.Log), subs: subjects(cfg)}
	w.restore()
	return w
}

// subjects lists what cfg watches, agents first.
func subjects(cfg *config.Config) []*subject {
	var subs []*subject
	grace := max(2*cfg.Interval, time.Minute)
	for i := range cfg.Agents {
		a := &cfg.Agents[i]
		subs = append(subs, &subject{id: "agent " + a.Key, label: fmt.Sprintf("agent %s (%s)", a.Key, a.Unit), agent: a,
			ac: &check.Agent{Key: a.Key, StallAfter: a.StallAfter.Duration, Grace: grace}})
	}
	for i := range cfg.Daemons {
		dm := &cfg.Daemons[i]
		s := &subject{id: "daemon " + dm.Role, label: fmt.Sprintf("daemon %s (%s)", dm.Role, dm.Unit), daemon: dm,
			dc: &check.Daemon{Role: dm.Role}}
		if dm.Role == config.EgressRole && cfg.EgressState != "" {
			s.eg = &check.Egress{Project: cfg.Project, StaleAfter: cfg.EgressStaleAfter}
		}
		subs = append(subs, s)
	}
	return subs
}

// unit is the service unit the subject is about.
func (s *subject) unit() string {
	if s.agent != nil {
		return s.agent.Unit
	}
	return s.daemon.Unit
}

// Reconfigure switches to cfg between rounds and keeps what the watcher
// has learned: a subject still watched under the same unit keeps its
// alert state (an alert is not sent again, its recovery still comes, its
// cooldown still holds) and its rules' memory (restart counts, the egress
// guard's last tamper count); alerts waiting for coord stay queued. A
// subject no longer watched is forgotten. New thresholds apply from the
// next round, and so does a moved state_file (the old file stays as it
// was).
func (w *Watcher) Reconfigure(cfg *config.Config) {
	old := map[string]*subject{}
	for _, s := range w.subs {
		old[s.id] = s
	}
	subs := subjects(cfg)
	kept := map[string]bool{}
	for _, s := range subs {
		o := old[s.id]
		if o == nil {
			continue
		}
		if o.unit() != s.unit() {
			// Another unit: its restart counts and alerts are another
			// unit's story.
			continue
		}
		kept[s.id] = true
		s.last = o.last
		if s.ac != nil && o.ac != nil {
			o.ac.Key, o.ac.StallAfter, o.ac.Grace = s.ac.Key, s.ac.StallAfter, s.ac.Grace
			s.ac = o.ac
		}
		if s.dc != nil && o.dc != nil {
			s.dc = o.dc
		}
		if s.eg != nil && o.eg != nil {
			o.eg.Project, o.eg.StaleAfter = s.eg.Project, s.eg.StaleAfter
			s.eg = o.eg
		}
	}
	for id := range old {
		if !kept[id] {
			w.policy.Forget(id)
		}
	}
	w.policy.Failures, w.policy.Window, w.policy.Cooldown = cfg.Failures, cfg.Window, cfg.Cooldown
	w.cfg, w.subs = cfg, subs
}

// Round checks every subject once and feeds the policy. It fails, without
// judging any subject, when the system bus cannot be reached: the watchdog
// is then blind, which says nothing about the fleet.
func (w *Watcher) Round(ctx context.Context) error {
	type seen struct {
		st  systemd.State
		err error
	}
	w.rounds.Add(1)
	units := make([]seen, len(w.subs))
	for i, s := range w.subs {
		st, err := w.d.Units.Unit(ctx, s.unit())
		if errors.Is(err, systemd.ErrBus) || ctx.Err() != nil {
			if err == nil {
				err = ctx.Err()
			}
			w.blind.Add(1)
			w.lastErr = fmt.Errorf("cannot read unit state from systemd: %w", err)
			return w.lastErr
		}
		units[i] = seen{st, err}
	}
	// The health sockets are asked at once: each ask may take up to
	// health.Timeout (a wedged daemon), and one after the other they
	// could outlast the round and cut the asks of healthy daemons short.
	healths := make([]error, len(w.subs))
	var wg sync.WaitGroup
	for i, s := range w.subs {
		if s.daemon == nil || s.daemon.Health == "" || units[i].err != nil || !units[i].st.Running() {
			continue
		}
		wg.Go(func() { healths[i] = w.d.Health(ctx, s.daemon.Health) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		// The round ran out of time: a health ask cut short says nothing
		// about its daemon.
		w.blind.Add(1)
		w.lastErr = fmt.Errorf("check round cut short: %w", ctx.Err())
		return w.lastErr
	}
	now := w.d.Clock.Now()
	var logs []func()
	for i, s := range w.subs {
		var ps []check.Problem
		if s.agent != nil {
			var st *statefile.State
			var serr error
			if units[i].err == nil && units[i].st.Running() {
				st, serr = w.d.States.Read(s.agent.StateFile)
			}
			ps = s.ac.Check(now, units[i].st, units[i].err, st, serr)
		} else {
			ps = s.dc.Check(now, units[i].st, units[i].err, healths[i])
			if s.eg != nil {
				// Read whatever the unit's state: a tamper recorded just
				// before the guard died is still news.
				est, eerr := w.d.Egress(w.cfg.EgressState)
				ps = append(ps, s.eg.Check(now, units[i].st, units[i].err, est, eerr)...)
			}
		}
		w.note(s, ps)
		for _, n := range w.policy.Observe(now, s.id, s.label, ps) {
			logs = append(logs, w.act(n))
		}
	}
	w.lastErr = nil
	// Saved before Flush sends anything, so coord never has an alert the
	// file does not record as raised (a restart would raise it again);
	// and before the journal lines, which count as raised too.
	w.save()
	for _, l := range logs {
		l()
	}
	return nil
}

// note logs a subject's problems when they change.
func (w *Watcher) note(s *subject, ps []check.Problem) {
	sum := check.Summary(ps)
	switch {
	case sum == s.last:
	case sum == "":
		w.d.Log.Info("check ok again", "subject", s.id)
	default:
		w.d.Log.Warn("check failed", "subject", s.id, "severity", string(check.Worst(ps)), "problems", sum)
	}
	s.last = sum
}

// act queues what goes to coord and counts the notice; it returns the
// notice's journal line, which the round writes once the state is saved.
func (w *Watcher) act(n policy.Notice) func() {
	switch n.Kind {
	case policy.Alert:
		w.alerts.Add(1)
	case policy.Recovery:
		w.recoveries.Add(1)
	case policy.Suppressed:
		w.suppressed.Add(1)
	}
	switch n.Kind {
	case policy.Alert, policy.Recovery:
		r := n.Request
		r.Clip()
		level, msg := slog.LevelError, "alert"
		if n.Kind == policy.Recovery {
			level, msg = slog.LevelInfo, "recovered"
		}
		id := w.out.Add(r)
		return func() {
			w.d.Log.Log(context.Background(), level, msg, "subject", r.Subject, "cause", n.Cause, "severity", string(r.Severity), "body", r.Body, "id", id)
		}
	default:
		return func() {
			w.d.Log.Warn("alert held back by the cooldown", "subject", n.Subject, "cause", n.Cause, "until", n.Until.UTC().Format(time.RFC3339))
		}
	}
}

// Flush sends queued alerts to coord; they stay queued while it is down.
// The state file is written after each alert coord took, so a restart
// sends it again only if it came between coord's answer and that write.
func (w *Watcher) Flush(ctx context.Context) {
	if err := w.out.Flush(ctx, w.save); err != nil {
		w.d.Log.Warn("coord cannot take alerts now; kept for the next round", "waiting", w.out.Len(), "err", err.Error())
	}
}

// Alerting counts the subjects alerting for some cause.
func (w *Watcher) Alerting() int {
	n := 0
	for _, s := range w.subs {
		if al, _ := w.policy.State(s.id); al {
			n++
		}
	}
	return n
}

// Status is the line for systemd's STATUS=, like
// "12 units ok, 1 alerting (lead: restarting)".
func (w *Watcher) Status() string {
	if w.lastErr != nil {
		return "blind: " + w.lastErr.Error()
	}
	ok, failing := 0, 0
	var alerting []string
	for _, s := range w.subs {
		if al, sum := w.policy.State(s.id); al {
			name, _ := strings.CutPrefix(strings.TrimPrefix(s.id, "agent "), "daemon ")
			alerting = append(alerting, name+": "+shorten(sum))
			continue
		}
		if s.last == "" {
			ok++
		} else {
			failing++
		}
	}
	sort.Strings(alerting)
	parts := []string{fmt.Sprintf("%d unit%s ok", ok, map[bool]string{true: "", false: "s"}[ok == 1])}
	if failing > 0 {
		parts = append(parts, fmt.Sprintf("%d failing", failing))
	}
	if len(alerting) > 0 {
		parts = append(parts, fmt.Sprintf("%d alerting (%s)", len(alerting), strings.Join(alerting, "; ")))
	}
	if n := w.out.Len(); n > 0 {
		parts = append(parts, fmt.Sprintf("%d alert%s waiting for coord", n, map[bool]string{true: "", false: "s"}[n == 1]))
	}
	if w.saveErr != "" {
		parts = append(parts, "alert state not saved: "+w.saveErr)
	}
	return strings.Join(parts, ", ")
}

// shorten keeps the first problem's leading words: "restarting",
// "refuses to start".
func shorten(sum string) string {
	first, _, _ := strings.Cut(sum, "; ")
	if i := strings.IndexAny(first, ":("); i > 0 {
		first = first[:i]
	}
	return strings.TrimSpace(first)
}
