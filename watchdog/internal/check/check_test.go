package check

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/coordapi"
	"github.com/clemhq/clem/shared/egressstate"
	"github.com/clemhq/clem/shared/runstate"
	"github.com/clemhq/clem/watchdog/internal/statefile"
	"github.com/clemhq/clem/watchdog/internal/systemd"
)

var t0 = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)

// up is a unit running for an hour with runner pid 42.
func up() systemd.State {
	return systemd.State{Name: "clem-p-agent-lead.service", LoadState: "loaded", ActiveState: "active", SubState: "running",
		Result: "success", MainPID: 42, ActiveEnter: uint64(t0.Add(-time.Hour).UnixMicro()), ExecMainStart: 5000}
}

func newAgent() *Agent {
	return &Agent{Key: "lead", StallAfter: 25 * time.Minute, Grace: time.Minute}
}

// sleeping is a healthy runner between iterations.
func sleeping(now time.Time) *statefile.State {
	return &statefile.State{Agent: "lead", PID: 42, Phase: statefile.Sleeping, Updated: now.Add(-time.Minute), NextAt: now.Add(5 * time.Minute), Iteration: 7}
}

func kinds(ps []Problem) string {
	var k []string
	for _, p := range ps {
		k = append(k, p.Kind)
	}
	return strings.Join(k, ",")
}

func TestHealthyAgentHasNoProblems(t *testing.T) {
	a := newAgent()
	for i := range 3 {
		now := t0.Add(time.Duration(i) * 15 * time.Second)
		if ps := a.Check(now, up(), nil, sleeping(now), nil); len(ps) != 0 {
			t.Fatalf("round %d: %v", i, ps)
		}
	}
}

func TestUnitRules(t *testing.T) {
	pre := up()
	pre.ActiveState, pre.SubState, pre.Result, pre.MainPID, pre.NRestarts = "activating", "auto-restart", "exit-code", 0, 4
	pre.StartPre = []systemd.Exec{{Path: "/usr/local/bin/clem", Argv: []string{"/usr/local/bin/clem", "egress", "verify", "--quiet", "--project", "p"}, Start: 6000, Exit: 6100, Code: 1, Status: 1}}
	failedPre := pre
	failedPre.ActiveState, failedPre.SubState, failedPre.Result = "failed", "failed", "start-limit-hit"
	restarting := up()
	restarting.ActiveState, restarting.SubState, restarting.Result, restarting.ExecMainCode, restarting.ExecMainStatus, restarting.NRestarts = "activating", "auto-restart", "signal", 2, 9, 1
	failed := up()
	failed.ActiveState, failed.SubState, failed.Result, failed.ExecMainCode, failed.ExecMainStatus = "failed", "failed", "start-limit-hit", 1, 1
	inactive := up()
	inactive.ActiveState, inactive.SubState, inactive.Result, inactive.ExecMainCode, inactive.ExecMainStatus = "inactive", "dead", "exit-code", 1, 1
	stopped := up()
	stopped.ActiveState, stopped.SubState, stopped.Result = "inactive", "dead", "success"
	missing := systemd.State{Name: "clem-p-agent-lead.service", LoadState: "not-found", ActiveState: "inactive"}
	cases := []struct {
		name  string
		u     systemd.State
		uerr  error
		kinds string
		sev   coordapi.Severity
		text  string
	}{
		{"egress verification fails", pre, nil, KindEgress, coordapi.Critical, `refuses to start: egress rules missing or changed (ExecStartPre "/usr/local/bin/clem egress verify --quiet --project p" exited with status 1)`},
		{"egress, start limit hit", failedPre, nil, KindEgress + "," + KindFailed, coordapi.Critical, "unit failed (start-limit-hit, ExecStartPre exited with status 1); systemd stopped restarting it"},
		{"restarting", restarting, nil, KindRestarting, coordapi.Warning, "restarting (signal, main process was killed by signal 9, 1 restarts so far)"},
		{"failed", failed, nil, KindFailed, coordapi.Critical, "unit failed (start-limit-hit, main process exited with status 1); systemd stopped restarting it"},
		{"inactive", inactive, nil, KindNotRunning, coordapi.Critical, "not running (inactive, exit-code, main process exited with status 1)"},
		{"not found", missing, nil, KindNotLoaded, coordapi.Critical, "unit clem-p-agent-lead.service is not-found"},
		{"unreadable", systemd.State{}, errors.New("no bus"), KindUnreadable, coordapi.Warning, "cannot read the unit's state from systemd: no bus"},
	}
	for _, tt := range cases {
		ps := newAgent().Check(t0, tt.u, tt.uerr, nil, nil)
		if kinds(ps) != tt.kinds || Worst(ps) != tt.sev || !strings.Contains(Summary(ps), tt.text) {
			t.Errorf("%s: Check = %+v, want kinds %s severity %s text %q", tt.name, ps, tt.kinds, tt.sev, tt.text)
		}
	}
	// A unit that failed, or ended while it should run, alerts at once:
	// nothing will start it again. The other problems wait for repeats.
	for _, tt := range cases {
		for _, p := range newAgent().Check(t0, tt.u, tt.uerr, nil, nil) {
			if want := p.Kind == KindFailed || p.Kind == KindNotRunning; p.Now != want || p.Event {
				t.Errorf("%s: %s has Now %v Event %v, want Now %v", tt.name, p.Kind, p.Now, p.Event, want)
			}
		}
	}
	// Stopped on purpose (clem down, systemctl stop): nothing to alert.
	if ps := newAgent().Check(t0, stopped, nil, nil, nil); len(ps) != 0 {
		t.Errorf("a unit stopped on purpose: Check = %+v, want no problem", ps)
	}
	// A daemon's failing ExecStartPre= is not about egress.
	if ps := (&Daemon{Role: "pipelock"}).Check(t0, pre, nil, nil); kinds(ps) != KindStartPre || strings.Contains(Summary(ps), "egress rules") {
		t.Errorf("daemon with failing ExecStartPre: %+v", ps)
	}
}

func TestRestartsCountOnce(t *testing.T) {
	a := newAgent()
	u := up()
	st := sleeping(t0)
	if ps := a.Check(t0, u, nil, st, nil); len(ps) != 0 {
		t.Fatalf("first round: %v", ps)
	}
	// Killed between two rounds and already back: one restart.
	u.NRestarts, u.MainPID = 1, 43
	st.PID = 43
	if ps := a.Check(t0.Add(15*time.Second), u, nil, st, nil); kinds(ps) != KindRestarted || !strings.Contains(ps[0].Text, "restarted 1 time since the last check (1 restarts in all)") {
		t.Errorf("after one restart: %+v", ps)
	}
	if ps := a.Check(t0.Add(30*time.Second), u, nil, st, nil); len(ps) != 0 {
		t.Errorf("no new restart: %+v", ps)
	}
	// Seen waiting to restart, then restarted: one event, reported once.
	r := u
	r.ActiveState, r.SubState, r.Result = "activating", "auto-restart", "signal"
	if ps := a.Check(t0.Add(45*time.Second), r, nil, nil, nil); kinds(ps) != KindRestarting {
		t.Errorf("waiting to restart: %+v", ps)
	}
	u.NRestarts, u.MainPID, st.PID = 2, 44, 44
	if ps := a.Check(t0.Add(60*time.Second), u, nil, st, nil); len(ps) != 0 {
		t.Errorf("the restart the last round saw coming counted again: %+v", ps)
	}
	// An explicit start resets NRestarts: a new baseline, not a problem.
	u.NRestarts = 0
	if ps := a.Check(t0.Add(75*time.Second), u, nil, st, nil); len(ps) != 0 {
		t.Errorf("after a reset: %+v", ps)
	}
}

// TestEgressCheckIsItsOwnCause: an agent that crashed and then fails its
// egress check (issue 15, item 18). The restarts the failing ExecStartPre=
// causes are that failure, not a second problem; a crash before is a
// restart of its own cause.
func TestEgressCheckIsItsOwnCause(t *testing.T) {
	a := newAgent()
	u := up()
	a.Check(t0, u, nil, sleeping(t0), nil)
	crashed := u
	crashed.ActiveState, crashed.SubState, crashed.Result, crashed.MainPID, crashed.ExecMainCode, crashed.ExecMainStatus = "activating", "auto-restart", "signal", 0, 2, 9
	crashed.NRestarts = 1
	ps := a.Check(t0.Add(15*time.Second), crashed, nil, nil, nil)
	if kinds(ps) != KindRestarting+","+KindRestarted || ps[0].Cause() != CauseRestarting || ps[1].Cause() != CauseRestarting {
		t.Errorf("crashed: %+v", ps)
	}
	pre := crashed
	pre.Result, pre.ExecMainCode, pre.ExecMainStatus = "exit-code", 0, 0
	pre.StartPre = []systemd.Exec{{Path: "/usr/local/bin/clem", Start: 9000, Exit: 9100, Code: 1, Status: 1}}
	for i := range 3 {
		pre.NRestarts += 2 // the egress check fails on every attempt
		ps := a.Check(t0.Add(time.Duration(30+15*i)*time.Second), pre, nil, nil, nil)
		if kinds(ps) != KindEgress || ps[0].Cause() != KindEgress {
			t.Errorf("round %d with a failing egress check: %+v, want only %s", i, ps, KindEgress)
		}
	}
}

func TestStall(t *testing.T) {
	a := newAgent()
	started := t0.Add(-40 * time.Minute)
	st := &statefile.State{PID: 42, Phase: statefile.Running, Updated: t0, Iteration: 12,
		Current: &runstate.Current{Iteration: 12, Started: started, Events: 41, LastEvent: t0.Add(-10 * time.Minute)}}
	if ps := a.Check(t0, up(), nil, st, nil); len(ps) != 0 {
		t.Errorf("last event 10m ago, stall_after 25m: %+v", ps)
	}
	st.Current.LastEvent = t0.Add(-26 * time.Minute)
	ps := a.Check(t0, up(), nil, st, nil)
	if kinds(ps) != KindStalled || ps[0].Text != "stalled: iteration 12 has made no progress for 26m0s (since 09:34:00 UTC), 41 events so far" {
		t.Errorf("last event 26m ago: %+v", ps)
	}
	// No event at all: progress is the start.
	st.Current.LastEvent = time.Time{}
	if ps := a.Check(t0, up(), nil, st, nil); kinds(ps) != KindStalled {
		t.Errorf("no event for 40m: %+v", ps)
	}
	// The runner killed a stalled iteration itself: reported once.
	b := newAgent()
	s := sleeping(t0)
	s.Stalls = 2
	b.Check(t0, up(), nil, s, nil)
	s.Stalls = 3
	if ps := b.Check(t0.Add(15*time.Second), up(), nil, s, nil); kinds(ps) != KindStalls || !strings.Contains(ps[0].Text, "1 iteration stalled and was killed by the runner (3 stalls in all)") {
		t.Errorf("stall counter grew: %+v", ps)
	}
	if ps := b.Check(t0.Add(30*time.Second), up(), nil, s, nil); len(ps) != 0 {
		t.Errorf("stall counter unchanged: %+v", ps)
	}
}

func TestRunnerAlive(t *testing.T) {
	a := newAgent()
	st := sleeping(t0)
	st.NextAt = t0.Add(-30 * time.Minute)
	if ps := a.Check(t0, up(), nil, st, nil); kinds(ps) != KindRunnerStuck {
		t.Errorf("iteration due 30m ago: %+v", ps)
	}
	st = &statefile.State{PID: 42, Phase: statefile.Starting, Updated: t0.Add(-time.Hour)}
	if ps := a.Check(t0, up(), nil, st, nil); kinds(ps) != KindRunnerStuck {
		t.Errorf("starting for an hour: %+v", ps)
	}
	// The state file of the previous runner process: after the grace.
	st = sleeping(t0)
	st.PID = 41
	if ps := a.Check(t0, up(), nil, st, nil); kinds(ps) != KindStateFile {
		t.Errorf("stale pid: %+v", ps)
	}
	fresh := up()
	fresh.ActiveEnter = uint64(t0.Add(-10 * time.Second).UnixMicro())
	if ps := a.Check(t0, fresh, nil, st, nil); len(ps) != 0 {
		t.Errorf("stale pid within the grace: %+v", ps)
	}
	if ps := a.Check(t0, fresh, nil, nil, statefile.ErrNotExist); len(ps) != 0 {
		t.Errorf("no state file within the grace: %+v", ps)
	}
	if ps := a.Check(t0, up(), nil, nil, statefile.ErrNotExist); kinds(ps) != KindStateFile {
		t.Errorf("no state file after an hour: %+v", ps)
	}
}

func TestFailingIterations(t *testing.T) {
	fail := func(n, status int) *statefile.State {
		st := sleeping(t0)
		st.Phase, st.ConsecutiveFailures = statefile.Backoff, n
		st.Last = &runstate.Iteration{Iteration: 7, ExitCode: 1, IsError: true}
		if status != 0 {
			st.Last.APIErrorStatus = &status
		}
		return st
	}
	cases := []struct {
		name  string
		st    *statefile.State
		kinds string
		text  string
	}{
		{"one 401", fail(1, 401), KindCredentials, "rejects the agent's credential (HTTP 401, 1 failed iteration in a row): expired or revoked; renew it with sudo clem login lead"},
		{"repeated 401s", fail(3, 401), KindCredentials, "HTTP 401, 3 failed iterations in a row"},
		{"403", fail(2, 403), KindCredentials, "HTTP 403"},
		{"one 529", fail(1, 529), "", ""},
		{"two 529s", fail(2, 529), KindFailing, "2 iterations in a row failed (the last, 7: model API HTTP 529)"},
		{"exit codes", fail(4, 0), KindFailing, "4 iterations in a row failed (the last, 7: exit code 1)"},
		{"recovered", fail(0, 401), "", ""},
	}
	for _, tt := range cases {
		ps := newAgent().Check(t0, up(), nil, tt.st, nil)
		if kinds(ps) != tt.kinds || !strings.Contains(Summary(ps), tt.text) {
			t.Errorf("%s: %+v, want %s %q", tt.name, ps, tt.kinds, tt.text)
		}
	}
}

func TestDaemonHealth(t *testing.T) {
	d := &Daemon{Role: "pipelock"}
	if ps := d.Check(t0, up(), nil, nil); len(ps) != 0 {
		t.Errorf("healthy: %+v", ps)
	}
	if ps := d.Check(t0, up(), nil, errors.New("HTTP 503: upstream CA unreadable")); kinds(ps) != KindHealth || ps[0].Text != "health check failed: HTTP 503: upstream CA unreadable" {
		t.Errorf("unhealthy: %+v", ps)
	}
}

// guard is the egress unit, up for an hour.
func guard() systemd.State {
	g := up()
	g.Name = "clem-p-egress.service"
	return g
}

func newEgress() *Egress { return &Egress{Project: "p", StaleAfter: 45 * time.Second} }

func fresh(now time.Time) *egressstate.State {
	return &egressstate.State{Project: "p", Checked: now.Add(-2 * time.Second), OK: true}
}

func TestEgressGuard(t *testing.T) {
	e := newEgress()
	st := fresh(t0)
	if ps := e.Check(t0, guard(), nil, st, nil); len(ps) != 0 {
		t.Fatalf("fresh, no tamper: %+v", ps)
	}
	// One tamper, restored: one event.
	st.Tampered, st.Restored, st.LastDiff = 1, 1, "table inet clem_p: missing"
	ps := e.Check(t0.Add(15*time.Second), guard(), nil, st, nil)
	if kinds(ps) != KindEgressTampered || !ps[0].Event || ps[0].Severity != coordapi.Critical ||
		ps[0].Text != "egress table of project p was changed: table inet clem_p: missing; restored" {
		t.Errorf("one tamper: %+v", ps)
	}
	if ps := e.Check(t0.Add(30*time.Second), guard(), nil, st, nil); len(ps) != 0 {
		t.Errorf("the same tamper again: %+v", ps)
	}
	// Two more, the restore failing: one event naming both, and the failed
	// restore as a problem until a restore succeeds.
	st.Checked = t0.Add(44 * time.Second) // the guard keeps checking
	st.Tampered, st.LastDiff, st.RestoreError = 3, "chain agent_lead: rule 2 added", "netlink: operation not permitted"
	ps = e.Check(t0.Add(45*time.Second), guard(), nil, st, nil)
	if kinds(ps) != KindEgressTampered+","+KindEgressFailed || !ps[1].Now ||
		ps[0].Text != "egress table of project p was changed 2 times since the last check (3 in all); the latest: chain agent_lead: rule 2 added; restore FAILED: netlink: operation not permitted" {
		t.Errorf("two tampers, restore failed: %+v", ps)
	}
	if ps := e.Check(t0.Add(60*time.Second), guard(), nil, st, nil); kinds(ps) != KindEgressFailed {
		t.Errorf("restore still failing: %+v", ps)
	}
	st.RestoreError, st.Restored = "", 3
	if ps := e.Check(t0.Add(75*time.Second), guard(), nil, st, nil); len(ps) != 0 {
		t.Errorf("restored: %+v", ps)
	}
	// The guard restarted: its counters start again, and its first tamper
	// is news.
	st = fresh(t0.Add(90 * time.Second))
	st.Tampered, st.Restored = 1, 0
	if ps := e.Check(t0.Add(90*time.Second), guard(), nil, st, nil); kinds(ps) != KindEgressTampered || !strings.HasSuffix(ps[0].Text, "; not restored yet") {
		t.Errorf("after a guard restart: %+v", ps)
	}
}

// TestEgressGuardText: the guard's words are clipped and cleaned before
// they reach an alert.
func TestEgressGuardText(t *testing.T) {
	e := newEgress()
	st := fresh(t0)
	e.Check(t0, guard(), nil, st, nil)
	st.Tampered, st.Restored = 1, 1
	st.LastDiff = "chain agent_x\x1b]52;c;cm0gLXJmIH4=\x07: " + strings.Repeat("y", 5000)
	ps := e.Check(t0.Add(15*time.Second), guard(), nil, st, nil)
	if len(ps) != 1 || strings.ContainsAny(ps[0].Text, "\x1b\x07") || len(ps[0].Text) > maxGuardText+100 {
		t.Errorf("tamper text not clipped and cleaned: %d bytes %q", len(ps[0].Text), ps[0].Text[:min(80, len(ps[0].Text))])
	}
}

func TestEgressGuardStale(t *testing.T) {
	young := guard()
	young.ActiveEnter = uint64(t0.Add(-10 * time.Second).UnixMicro())
	down := guard()
	down.ActiveState, down.SubState, down.Result = "failed", "failed", "exit-code"
	old := fresh(t0)
	old.Checked = t0.Add(-46 * time.Second)
	cases := []struct {
		name  string
		u     systemd.State
		st    *egressstate.State
		serr  error
		kinds string
		text  string
	}{
		{"fresh", guard(), fresh(t0), nil, "", ""},
		{"last check 46s ago", guard(), old, nil, KindEgressStale, "the egress guard last checked the table 46s (since 09:59:14 UTC), more than 45s ago: it is wedged"},
		{"last check 46s ago, the guard just started", young, old, nil, "", ""},
		{"last check 46s ago, the unit is down (its own problem)", down, old, nil, "", ""},
		{"no file", guard(), nil, fmt.Errorf("state file: %w", fs.ErrNotExist), KindEgressStale, "the egress guard has written no state file in 1h0m0s while its unit runs"},
		{"no file, the guard just started", young, nil, fs.ErrNotExist, "", ""},
		{"unreadable", guard(), nil, errors.New("state file /run/clem/p/egress/state.json is a symbolic link"), KindEgressStale, "cannot read the egress guard's state file: state file /run/clem/p/egress/state.json is a symbolic link"},
	}
	for _, tt := range cases {
		ps := newEgress().Check(t0, tt.u, nil, tt.st, tt.serr)
		if kinds(ps) != tt.kinds || !strings.Contains(Summary(ps), tt.text) {
			t.Errorf("%s: %+v, want %s %q", tt.name, ps, tt.kinds, tt.text)
		}
		for _, p := range ps {
			if !p.Now || p.Event || p.Severity != coordapi.Critical {
				t.Errorf("%s: %+v, want critical, at once, not an event", tt.name, p)
			}
		}
	}
}
