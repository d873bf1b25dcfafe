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
	cfg, err := config.Parse("watchdog.toml", []byte(top+`
project = "p"
interval = "15s"
coord_socket = "/unused"
[alert]
failures = 3
window = "30m"
cooldown = "1h"
[[agent]]
key = "lead"
unit = "`+leadUnit+`"
state_file = "`+leadFile+`"
[[daemon]]
role = "pipelock"
unit = "`+pipeUnit+`"
health = "/run/clem/p/pipelock/admin.sock"
`+tables))
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
