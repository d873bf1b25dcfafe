package daemon

import (
	"strings"
	"testing"

	"github.com/clemhq/clem/shared/coordapi"
	"github.com/clemhq/clem/watchdog/internal/config"
	"github.com/clemhq/clem/watchdog/internal/systemd"
)

// TestReconfigureKeepsAlertState: pipelock failed and alerted; a reload
// that keeps pipelock (and changes the alert policy) keeps that alert: no
// second one while it stays failed, one recovery after. The control is a
// restart (a fresh watcher for the same config), which alerts again. A
// subject the reload drops is forgotten; one it adds starts fresh.
func TestReconfigureKeepsAlertState(t *testing.T) {
	failPipelock := func(f *fixture) {
		f.units.set(pipeUnit, func(s *systemd.State) {
			s.ActiveState, s.SubState, s.Result, s.MainPID = "failed", "failed", "exit-code", 0
		})
	}
	f := newFixture(t, true)
	failPipelock(f)
	f.round(t)
	if got := f.coord.Got(); len(got) != 1 || got[0].Subject != "daemon pipelock" {
		t.Fatalf("alerts %+v, want pipelock failed", got)
	}
	src := strings.Replace(fixtureTOML, "failures = 3", "failures = 2", 1) + "[[daemon]]\nrole = \"coord\"\nunit = \"" + coordUnit + "\"\n"
	cfg, err := config.Parse("watchdog.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	f.units.set(coordUnit, func(s *systemd.State) { *s = f.units.units[leadUnit]; s.Name = coordUnit })
	f.w.Reconfigure(cfg)
	for range 3 {
		f.round(t)
	}
	if got := f.coord.Got(); len(got) != 1 {
		t.Fatalf("after the reload: %+v, want still the one alert", got)
	}
	if s := f.w.Status(); s != "2 units ok, 1 alerting (pipelock: unit failed)" {
		t.Errorf("Status = %q", s)
	}
	f.units.set(pipeUnit, func(s *systemd.State) {
		s.ActiveState, s.SubState, s.Result, s.MainPID = "active", "running", "success", 8
	})
	for range 2 { // the new failures = 2 counts good checks too
		f.round(t)
	}
	got := f.coord.Got()
	if len(got) != 2 || got[1].Severity != coordapi.Resolved || !strings.HasPrefix(got[1].Body, "daemon pipelock (clem-p-pipelock.service) recovered from the unit failing: 2 good checks in a row") {
		t.Fatalf("pipelock runs again: %+v, want one recovery after 2 good checks", got)
	}

	// Control: a restart forgets, and the same failed unit alerts again.
	c := newFixture(t, true)
	failPipelock(c)
	c.round(t)
	c.w = NewWatcher(c.w.cfg, c.w.d)
	c.round(t)
	if got := c.coord.Got(); len(got) != 2 {
		t.Fatalf("a fresh watcher: %d alerts, want 2 (the state a reload keeps is what makes it 1)", len(got))
	}

	// A dropped subject is forgotten: re-added later, it starts fresh.
	g := newFixture(t, true)
	failPipelock(g)
	g.round(t)
	noPipe, err := config.Parse("watchdog.toml", []byte(strings.Split(fixtureTOML, "[[daemon]]")[0]))
	if err != nil {
		t.Fatal(err)
	}
	full := g.w.cfg
	g.w.Reconfigure(noPipe)
	if al, _ := g.w.policy.State("daemon pipelock"); al {
		t.Errorf("a dropped subject is still alerting")
	}
	g.w.Reconfigure(full)
	g.round(t)
	if got := g.coord.Got(); len(got) != 2 {
		t.Errorf("re-added failed pipelock: %d alerts, want 2", len(got))
	}
}
