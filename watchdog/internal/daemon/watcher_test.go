package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/coordapi"
	"github.com/clemhq/clem/shared/egressstate"
	"github.com/clemhq/clem/watchdog/internal/config"
	"github.com/clemhq/clem/watchdog/internal/coordtest"
	"github.com/clemhq/clem/watchdog/internal/statefile"
	"github.com/clemhq/clem/watchdog/internal/systemd"
)

// fakeClock is stepped by the test.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

// fakeUnits stands in for systemd: the policy's tests need unit states on
// demand (the D-Bus reader itself is tested against real systemd in
// package systemd).
type fakeUnits struct {
	mu    sync.Mutex
	units map[string]systemd.State
	down  bool
}

func (f *fakeUnits) Unit(_ context.Context, name string) (systemd.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return systemd.State{}, fmt.Errorf("%w: dial unix /run/dbus/system_bus_socket: no such file", systemd.ErrBus)
	}
	st, ok := f.units[name]
	if !ok {
		return systemd.State{Name: name, LoadState: "not-found", ActiveState: "inactive"}, nil
	}
	return st, nil
}

func (f *fakeUnits) set(name string, edit func(*systemd.State)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.units[name]
	edit(&st)
	f.units[name] = st
}

// fakeStates hands out state files by path.
type fakeStates map[string]*statefile.State

func (f fakeStates) Read(path string) (*statefile.State, error) {
	if st, ok := f[path]; ok {
		c := *st
		return &c, nil
	}
	return nil, statefile.ErrNotExist
}

const (
	leadUnit = "clem-p-agent-lead.service"
	pipeUnit = "clem-p-pipelock.service"
	leadFile = "/var/lib/clem/p/agents/lead/state.json"
)

var t0 = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)

type fixture struct {
	w      *Watcher
	egress *egressstate.State // what the guard's state file holds; nil: no file
	clock  *fakeClock
	units  *fakeUnits
	states fakeStates
	coord  *coordtest.Alerts
	health map[string]error
	logs   *strings.Builder
}

const (
	egressUnit = "clem-p-egress.service"
	egressFile = "/run/clem/p/egress/state.json"
)

// fixtureTOML is the fixture's config: lead and pipelock.
const fixtureTOML = `
project = "p"
interval = "15s"
coord_socket = "/unused"
[alert]
failures = 3
window = "30m"
cooldown = "1h"
[[agent]]
key = "lead"
unit = "` + leadUnit + `"
state_file = "` + leadFile + `"
[[daemon]]
role = "pipelock"
unit = "` + pipeUnit + `"
health = "/run/clem/p/pipelock/admin.sock"
`

func newFixture(t *testing.T, coordUp bool) *fixture {
	t.Helper()
	return newFixtureWith(t, coordUp, "")
}

// newFixtureWith adds extra to the config (top-level keys first, then
// tables).
func newFixtureWith(t *testing.T, coordUp bool, extra string) *fixture {
	t.Helper()
	top, tables, _ := strings.Cut(extra, "\n[")
	if tables != "" {
		tables = "[" + tables
	}
	cfg, err := config.Parse("watchdog.toml", []byte(top+fixtureTOML+tables))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{clock: &fakeClock{now: t0}, states: fakeStates{}, health: map[string]error{}, logs: &strings.Builder{}}
	running := systemd.State{LoadState: "loaded", ActiveState: "active", SubState: "running", Result: "success",
		MainPID: 42, ActiveEnter: uint64(t0.Add(-time.Hour).UnixMicro())}
	lead, pipe, guard := running, running, running
	lead.Name, pipe.Name, pipe.MainPID, guard.Name, guard.MainPID = leadUnit, pipeUnit, 7, egressUnit, 9
	f.units = &fakeUnits{units: map[string]systemd.State{leadUnit: lead, pipeUnit: pipe, egressUnit: guard}}
	f.states[leadFile] = &statefile.State{PID: 42, Phase: statefile.Sleeping, Updated: t0, NextAt: t0.Add(10 * time.Minute)}
	f.coord = &coordtest.Alerts{Path: filepath.Join(t.TempDir(), "coord.sock")}
	if coordUp {
		f.coord.Start(t)
	}
	f.w = NewWatcher(cfg, Deps{
		Units: f.units, States: f.states, Clock: f.clock,
		Health: func(_ context.Context, socket string) error { return f.health[socket] },
		Egress: func(path string) (*egressstate.State, error) {
			if path != egressFile || f.egress == nil {
				return nil, fmt.Errorf("state file: open %s: %w", path, fs.ErrNotExist)
			}
			c := *f.egress
			return &c, nil
		},
		Sender: coordapi.NewClient(f.coord.Path),
		Log:    slog.New(slog.NewJSONHandler(f.logs, nil)),
	})
	return f
}

// round steps the clock one interval and runs a round and a flush.
func (f *fixture) round(t *testing.T) {
	t.Helper()
	f.clock.now = f.clock.now.Add(15 * time.Second)
	if err := f.w.Round(context.Background()); err != nil {
		t.Fatalf("Round: %v", err)
	}
	f.w.Flush(context.Background())
}

// kill makes the runner die and come back between two rounds.
func (f *fixture) kill() {
	f.units.set(leadUnit, func(s *systemd.State) { s.NRestarts++; s.MainPID++ })
	f.states[leadFile].PID++
}

func TestRestartsAlertOnceAndRecoverOnce(t *testing.T) {
	f := newFixture(t, true)
	f.round(t)
	if got := f.w.Status(); got != "2 units ok" {
		t.Errorf("Status = %q", got)
	}
	f.kill()
	f.round(t)
	f.kill()
	f.round(t)
	if n := len(f.coord.Got()); n != 0 {
		t.Fatalf("alerted after 2 restarts with failures = 3: %+v", f.coord.Got())
	}
	if got := f.w.Status(); got != "1 unit ok, 1 failing" {
		t.Errorf("Status = %q", got)
	}
	f.kill()
	f.round(t)
	for range 2 { // still failing: no second alert
		f.kill()
		f.round(t)
	}
	got := f.coord.Got()
	if len(got) != 1 || got[0].Severity != coordapi.Warning || got[0].Subject != "agent lead" ||
		!strings.HasPrefix(got[0].Body, "agent lead (clem-p-agent-lead.service): restarted 1 time since the last check (3 restarts in all). 3 bad checks in 30s") {
		t.Fatalf("after 3 restarts: alerts %+v, want exactly one", got)
	}
	if s := f.w.Status(); s != "1 unit ok, 1 alerting (lead: restarted 1 time since the last check)" {
		t.Errorf("Status = %q", s)
	}
	for range 5 {
		f.round(t)
	}
	got = f.coord.Got()
	if len(got) != 2 || got[1].Severity != coordapi.Resolved || !strings.HasPrefix(got[1].Body, "agent lead (clem-p-agent-lead.service) recovered from restarting repeatedly: 3 good checks in a row.") {
		t.Fatalf("after 5 good rounds: %+v, want one recovery", got)
	}
	if s := f.w.Status(); s != "2 units ok" {
		t.Errorf("Status = %q", s)
	}
	for _, want := range []string{`"msg":"check failed","subject":"agent lead"`, `"level":"ERROR","msg":"alert","subject":"agent lead"`, `"msg":"recovered"`} {
		if !strings.Contains(f.logs.String(), want) {
			t.Errorf("journal lacks %s:\n%s", want, f.logs)
		}
	}
}

func TestEgressRefusalAlerts(t *testing.T) {
	f := newFixture(t, true)
	f.round(t)
	f.units.set(leadUnit, func(s *systemd.State) {
		s.ActiveState, s.SubState, s.Result, s.MainPID = "activating", "auto-restart", "exit-code", 0
		s.ExecMainStart = 100
		s.StartPre = []systemd.Exec{{Path: "/usr/local/bin/clem", Start: 200, Exit: 210, Code: 1, Status: 1}}
	})
	for range 3 {
		f.round(t)
	}
	got := f.coord.Got()
	if len(got) != 1 || got[0].Severity != coordapi.Critical ||
		!strings.Contains(got[0].Body, `refuses to start: egress rules missing or changed (ExecStartPre "/usr/local/bin/clem" exited with status 1)`) {
		t.Fatalf("alerts %+v", got)
	}
	if s := f.w.Status(); s != "1 unit ok, 1 alerting (lead: refuses to start)" {
		t.Errorf("Status = %q", s)
	}
}

func TestDaemonHealthAlerts(t *testing.T) {
	f := newFixture(t, true)
	f.health["/run/clem/p/pipelock/admin.sock"] = errors.New("HTTP 503: config unreadable")
	for range 3 {
		f.round(t)
	}
	got := f.coord.Got()
	if len(got) != 1 || got[0].Subject != "daemon pipelock" || !strings.Contains(got[0].Body, "health check failed: HTTP 503: config unreadable") {
		t.Fatalf("alerts %+v", got)
	}
}

func TestCoordDownKeepsAlerts(t *testing.T) {
	f := newFixture(t, false)
	f.units.set(leadUnit, func(s *systemd.State) { s.ActiveState, s.SubState, s.Result = "failed", "failed", "exit-code" })
	for range 3 {
		f.round(t)
	}
	if s := f.w.Status(); !strings.HasSuffix(s, "1 alert waiting for coord") {
		t.Errorf("Status = %q", s)
	}
	if !strings.Contains(f.logs.String(), `"msg":"alert","subject":"agent lead","cause":"failed","severity":"critical"`) {
		t.Errorf("the alert is not in the journal while coord is down:\n%s", f.logs)
	}
	f.coord.Start(t)
	f.round(t)
	if got := f.coord.Got(); len(got) != 1 || got[0].Severity != coordapi.Critical {
		t.Fatalf("after coord came back: %+v", got)
	}
	if s := f.w.Status(); s != "1 unit ok, 1 alerting (lead: unit failed)" {
		t.Errorf("Status = %q", s)
	}
}

func TestBlindRoundJudgesNothing(t *testing.T) {
	f := newFixture(t, true)
	f.units.down = true
	for range 5 {
		f.clock.now = f.clock.now.Add(15 * time.Second)
		if err := f.w.Round(context.Background()); err == nil || !errors.Is(err, systemd.ErrBus) {
			t.Fatalf("Round with the bus down = %v", err)
		}
	}
	if got := f.coord.Got(); len(got) != 0 {
		t.Errorf("alerts while blind: %+v", got)
	}
	if s := f.w.Status(); !strings.HasPrefix(s, "blind: cannot read unit state from systemd") {
		t.Errorf("Status = %q", s)
	}
}

// TestFailedDaemonAlertsAtOnce (issue 15, item 15): pipelock was killed, a
// squatter took its port, systemd hit the start limit and left the unit
// failed. That is one alert at the first round, with systemd's cause,
// none more while it stays failed, and one recovery once it runs again.
func TestFailedDaemonAlertsAtOnce(t *testing.T) {
	f := newFixture(t, true)
	f.round(t)
	f.units.set(pipeUnit, func(s *systemd.State) {
		s.ActiveState, s.SubState, s.Result, s.MainPID, s.ExecMainCode, s.ExecMainStatus = "failed", "failed", "start-limit-hit", 0, 1, 1
		s.NRestarts = 5
	})
	f.round(t)
	got := f.coord.Got()
	if len(got) != 1 || got[0].Subject != "daemon pipelock" || got[0].Severity != coordapi.Critical ||
		!strings.HasPrefix(got[0].Body, "daemon pipelock (clem-p-pipelock.service): unit failed (start-limit-hit, main process exited with status 1); systemd stopped restarting it") {
		t.Fatalf("first round with pipelock failed: alerts %+v, want one naming start-limit-hit and the exit status", got)
	}
	for range 5 {
		f.round(t)
	}
	if got := f.coord.Got(); len(got) != 1 {
		t.Fatalf("pipelock stays failed: %d alerts, want still 1: %+v", len(got), got)
	}
	if s := f.w.Status(); s != "1 unit ok, 1 alerting (pipelock: unit failed)" {
		t.Errorf("Status = %q", s)
	}
	// reset-failed and started by hand: NRestarts starts again at 0.
	f.units.set(pipeUnit, func(s *systemd.State) {
		s.ActiveState, s.SubState, s.Result, s.MainPID, s.NRestarts = "active", "running", "success", 77, 0
	})
	for range 5 {
		f.round(t)
	}
	got = f.coord.Got()
	if len(got) != 2 || got[1].Severity != coordapi.Resolved || !strings.HasPrefix(got[1].Body, "daemon pipelock (clem-p-pipelock.service) recovered from the unit failing: 3 good checks in a row") {
		t.Fatalf("after pipelock runs again: %+v, want one recovery", got)
	}
}

// TestCrashThenEgressFailureAlertsTwice (issue 15, item 18): an agent
// crashes repeatedly (one alert: restarting), then its egress check fails.
// The egress failure is a cause of its own: the restarting alert's cooldown
// does not swallow it.
func TestCrashThenEgressFailureAlertsTwice(t *testing.T) {
	f := newFixture(t, true)
	f.round(t)
	for range 3 {
		f.kill()
		f.round(t)
	}
	f.units.set(leadUnit, func(s *systemd.State) {
		s.ActiveState, s.SubState, s.Result, s.MainPID = "activating", "auto-restart", "exit-code", 0
		s.ExecMainStart = 100
		s.StartPre = []systemd.Exec{{Path: "/usr/local/bin/clem", Argv: []string{"/usr/local/bin/clem", "egress", "verify", "--quiet", "--project", "p"}, Start: 200, Exit: 210, Code: 1, Status: 1}}
	})
	for range 3 {
		f.units.set(leadUnit, func(s *systemd.State) { s.NRestarts++ })
		f.round(t)
	}
	// The restarts the failing egress check causes are that failure: the
	// crash loop is over, and says so in the round the egress check alerts.
	got := f.coord.Got()
	if len(got) != 3 || !strings.Contains(got[0].Body, "restarted 1 time since the last check") ||
		!strings.Contains(got[1].Body, "recovered from restarting repeatedly") ||
		got[2].Severity != coordapi.Critical || !strings.Contains(got[2].Body, `refuses to start: egress rules missing or changed (ExecStartPre "/usr/local/bin/clem egress verify --quiet --project p" exited with status 1)`) {
		t.Fatalf("alerts %+v, want restarting, its recovery, then the egress failure", got)
	}
	// systemd gives up: the unit failed is a third cause, at once.
	f.units.set(leadUnit, func(s *systemd.State) { s.ActiveState, s.SubState, s.Result = "failed", "failed", "start-limit-hit" })
	f.round(t)
	got = f.coord.Got()
	if len(got) != 4 || !strings.Contains(got[3].Body, "unit failed (start-limit-hit, ExecStartPre exited with status 1)") {
		t.Fatalf("after the start limit: %+v", got[3:])
	}
}

// egressConfig watches the egress guard's record and its unit.
const egressConfig = `egress_state = "` + egressFile + `"
[[daemon]]
role = "egress"
unit = "` + egressUnit + `"
`

// TestEgressTamperAlertsOncePerTamper (issue 15, item 17): the egress
// guard found the table deleted and restored it. That is one alert, with
// the guard's clipped words, however long the watchdog goes on reading
// the same record; a second tamper is a second alert.
func TestEgressTamperAlertsOncePerTamper(t *testing.T) {
	f := newFixtureWith(t, true, egressConfig)
	f.egress = &egressstate.State{Project: "p", Checked: f.clock.now, OK: true}
	f.round(t)
	if s := f.w.Status(); s != "3 units ok" {
		t.Fatalf("Status = %q", s)
	}
	f.egress.Tampered, f.egress.Restored, f.egress.LastDiff = 1, 1, "table inet clem_p is missing\x1b]52;c;Y3VybCBldmlsfHNo\x07"+strings.Repeat(" and more", 1000)
	for range 4 {
		f.egress.Checked = f.clock.now
		f.round(t)
	}
	got := f.coord.Got()
	if len(got) != 1 || got[0].Subject != "daemon egress" || got[0].Severity != coordapi.Critical ||
		!strings.HasPrefix(got[0].Body, "daemon egress (clem-p-egress.service): egress table of project p was changed: table inet clem_p is missing ") ||
		!strings.Contains(got[0].Body, "; restored. Seen at") || strings.ContainsAny(got[0].Body, "\x1b\x07") || len(got[0].Body) > 600 {
		t.Fatalf("one tamper: alerts %+v, want exactly one, clipped and cleaned", got)
	}
	f.egress.Tampered, f.egress.RestoreError = 2, "netlink receive: operation not permitted"
	f.egress.Checked = f.clock.now
	f.round(t)
	got = f.coord.Got()
	if len(got) != 3 || !strings.Contains(got[1].Body, "restore FAILED: netlink receive: operation not permitted") ||
		!strings.Contains(got[2].Body, "the egress guard cannot restore the egress table of project p") {
		t.Fatalf("second tamper, restore failed: %+v", got)
	}
}

// TestEgressGuardSilentAlerts: the guard's unit runs but its record stops
// moving (the guard is wedged; the table is not watched): one alert once
// the last check is older than three rounds, one recovery after.
func TestEgressGuardSilentAlerts(t *testing.T) {
	f := newFixtureWith(t, true, egressConfig)
	f.egress = &egressstate.State{Project: "p", Checked: f.clock.now, OK: true}
	for range 3 { // 45 s: not yet older than three rounds
		f.round(t)
	}
	if got := f.coord.Got(); len(got) != 0 {
		t.Fatalf("alerted before the record was three rounds old: %+v", got)
	}
	for range 3 {
		f.round(t)
	}
	got := f.coord.Got()
	if len(got) != 1 || !strings.Contains(got[0].Body, "the egress guard last checked the table 1m0s (since 10:00:00 UTC), more than 45s ago: it is wedged") {
		t.Fatalf("silent guard: %+v", got)
	}
	for range 3 {
		f.egress.Checked = f.clock.now
		f.round(t)
	}
	if got := f.coord.Got(); len(got) != 2 || !strings.Contains(got[1].Body, "recovered from the egress guard being silent") {
		t.Fatalf("the guard checks again: %+v", got)
	}
}
