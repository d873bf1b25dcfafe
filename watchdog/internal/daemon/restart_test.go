package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/clemhq/clem/shared/coordapi"
	"github.com/clemhq/clem/watchdog/internal/config"
	"github.com/clemhq/clem/watchdog/internal/systemd"
)

// stateFixture is a fixture whose config names a state file in a fresh
// directory (keep = true) or none (keep = false: the watchdog before the
// state file, the control).
func stateFixture(t *testing.T, coordUp, keep bool) (*fixture, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.json")
	extra := ""
	if keep {
		extra = "state_file = \"" + path + "\"\n"
	}
	return newFixtureWith(t, coordUp, extra), path
}

// restart is the watchdog killed and started again on the same config:
// a new watcher, with only what the state file kept.
func (f *fixture) restart(t *testing.T, cfg *config.Config) {
	t.Helper()
	if cfg == nil {
		cfg = f.w.cfg
	}
	f.w = NewWatcher(cfg, f.w.d)
}

// reparse is f's config with edit applied to its text.
func (f *fixture) reparse(t *testing.T, statePath string, keep bool, edit func(string) string) *config.Config {
	t.Helper()
	src := fixtureTOML
	if keep {
		src = "state_file = \"" + statePath + "\"\n" + src
	}
	cfg, err := config.Parse("watchdog.toml", []byte(edit(src)))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func failPipe(f *fixture) {
	f.units.set(pipeUnit, func(s *systemd.State) {
		s.ActiveState, s.SubState, s.Result, s.MainPID = "failed", "failed", "exit-code", 0
	})
}

func runPipe(f *fixture) {
	f.units.set(pipeUnit, func(s *systemd.State) {
		s.ActiveState, s.SubState, s.Result, s.MainPID = "active", "running", "success", 8
	})
}

// TestRestartKeepsAlertState: pipelock failed and alerted, then the
// watchdog restarted. With the state file the restart is invisible: no
// second alert while pipelock stays failed, and one recovery when it runs
// again. The control (no state_file) is the old behaviour: it alerts
// again, and a recovery right after the restart is never sent.
func TestRestartKeepsAlertState(t *testing.T) {
	cases := []struct {
		name      string
		keep      bool
		after     func(*fixture)
		rounds    int
		wantAfter []coordapi.Severity // what coord gets after the restart
	}{
		{"still failed", true, failPipe, 4, nil},
		{"control: still failed, no state file", false, failPipe, 4, []coordapi.Severity{coordapi.Critical}},
		{"recovers", true, runPipe, 4, []coordapi.Severity{coordapi.Resolved}},
		{"control: recovers, no state file", false, runPipe, 4, nil},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := stateFixture(t, true, tt.keep)
			f.round(t)
			failPipe(f)
			f.round(t)
			if got := f.coord.Got(); len(got) != 1 || got[0].Subject != "daemon pipelock" || got[0].Severity != coordapi.Critical {
				t.Fatalf("before the restart: %+v, want pipelock's alert", got)
			}
			f.restart(t, nil)
			tt.after(f)
			for range tt.rounds {
				f.round(t)
			}
			got := f.coord.Got()[1:]
			if len(got) != len(tt.wantAfter) {
				t.Fatalf("after the restart coord got %+v, want %v", got, tt.wantAfter)
			}
			for i, a := range got {
				if a.Subject != "daemon pipelock" || a.Severity != tt.wantAfter[i] {
					t.Errorf("after the restart [%d] = %+v, want %s", i, a, tt.wantAfter[i])
				}
			}
			if tt.keep && len(got) == 1 && !strings.HasPrefix(got[0].Body, "daemon pipelock (clem-p-pipelock.service) recovered from the unit failing: 3 good checks in a row. It had alerted at 2026-01-02 10:00:30 UTC: unit failed (exit-code)") {
				t.Errorf("recovery body %q, want the alert from before the restart", got[0].Body)
			}
		})
	}
}

// TestRestartDeliversWaitingAlerts: coord was down when pipelock failed;
// the alert waited in the outbox when the watchdog restarted. After the
// restart it is delivered, once, as it was raised (same text, same id in
// the journal), and not raised again. The control loses it: without the
// state file the new process raises a new alert with a later time.
func TestRestartDeliversWaitingAlerts(t *testing.T) {
	for _, keep := range []bool{true, false} {
		t.Run(map[bool]string{true: "state file", false: "control: no state file"}[keep], func(t *testing.T) {
			f, _ := stateFixture(t, false, keep)
			failPipe(f)
			f.round(t)
			if n := f.w.out.Len(); n != 1 {
				t.Fatalf("coord down: %d waiting, want 1", n)
			}
			raised := f.w.out.Items()[0]
			f.restart(t, nil)
			if keep {
				if s := f.w.Status(); !strings.HasSuffix(s, "1 alert waiting for coord") {
					t.Errorf("Status after the restart = %q", s)
				}
			}
			f.coord.Start(t)
			for range 3 {
				f.round(t)
			}
			got := f.coord.Got()
			if len(got) != 1 {
				t.Fatalf("coord got %+v, want exactly one alert", got)
			}
			if keep != (got[0].Body == raised.Alert.Body) {
				t.Errorf("delivered %q; raised before the restart %q (state file %v)", got[0].Body, raised.Alert.Body, keep)
			}
			delivered := strings.Contains(f.logs.String(), `"msg":"alert delivered to coord","id":"`+raised.ID+`"`)
			if keep != delivered {
				t.Errorf("journal has the delivery of id %s: %v, want %v:\n%s", raised.ID, delivered, keep, f.logs)
			}
			if n := strings.Count(f.logs.String(), `"msg":"alert","subject":"daemon pipelock"`); keep && n != 1 {
				t.Errorf("journal has %d alert lines for pipelock, want 1 (raised once)", n)
			}
		})
	}
}

// TestRestartDropsWhatIsNoLongerWatched: saved state of a subject the
// config dropped, of one now watched under another unit, and of a cause
// its rules can no longer raise (a health socket no longer named) is not
// restored: no recovery can come for it, and a subject added back starts
// fresh, as a reload would.
func TestRestartDropsWhatIsNoLongerWatched(t *testing.T) {
	t.Run("subject dropped, then added back", func(t *testing.T) {
		f, path := stateFixture(t, true, true)
		failPipe(f)
		f.round(t)
		noPipe := f.reparse(t, path, true, func(s string) string { return strings.Split(s, "[[daemon]]")[0] })
		full := f.w.cfg
		f.restart(t, noPipe)
		f.round(t) // saves without pipelock
		f.restart(t, full)
		f.round(t)
		if got := f.coord.Got(); len(got) != 2 || got[1].Subject != "daemon pipelock" || got[1].Severity != coordapi.Critical {
			t.Errorf("pipelock added back, still failed: %+v, want a second alert", got)
		}
	})
	t.Run("another unit", func(t *testing.T) {
		f, path := stateFixture(t, true, true)
		failPipe(f)
		f.round(t)
		moved := f.reparse(t, path, true, func(s string) string { return strings.Replace(s, pipeUnit, "clem-p-pipelock2.service", 1) })
		f.units.set("clem-p-pipelock2.service", func(s *systemd.State) {
			*s = f.units.units[pipeUnit]
			s.Name = "clem-p-pipelock2.service"
		})
		f.restart(t, moved)
		if !strings.Contains(f.logs.String(), `"msg":"alert state restored","state_file":"`+path+`","alerting":0,"waiting":0,"dropped":1`) {
			t.Errorf("journal lacks the dropped state:\n%s", f.logs)
		}
		f.round(t)
		if got := f.coord.Got(); len(got) != 2 {
			t.Errorf("a failed unit of its own: %+v, want its own alert", got)
		}
	})
	for _, drop := range []bool{true, false} {
		name := map[bool]string{true: "health no longer checked", false: "control: health still checked"}[drop]
		t.Run(name, func(t *testing.T) {
			f, path := stateFixture(t, true, true)
			f.health["/run/clem/p/pipelock/admin.sock"] = errors.New("HTTP 503: wedged")
			for range 3 {
				f.round(t)
			}
			if got := f.coord.Got(); len(got) != 1 || !strings.Contains(got[0].Body, "health check failed") {
				t.Fatalf("alerts %+v, want pipelock unhealthy", got)
			}
			cfg := f.w.cfg
			if drop {
				cfg = f.reparse(t, path, true, func(s string) string {
					return strings.Replace(s, "health = \"/run/clem/p/pipelock/admin.sock\"\n", "", 1)
				})
			}
			f.restart(t, cfg)
			delete(f.health, "/run/clem/p/pipelock/admin.sock")
			for range 4 {
				f.round(t)
			}
			got := f.coord.Got()
			if drop && len(got) != 1 {
				t.Errorf("health dropped from the config: %+v, want no recovery for a check no longer made", got)
			}
			if !drop && (len(got) != 2 || got[1].Severity != coordapi.Resolved) {
				t.Errorf("health still checked: %+v, want its recovery", got)
			}
		})
	}
}

// TestCorruptStateFile: a state file the watchdog cannot use is logged
// and ignored: it starts fresh (alerting again for what is still bad,
// the old behaviour), never fails to start, and writes a good file over
// it at its next round.
func TestCorruptStateFile(t *testing.T) {
	cases := []struct {
		name  string
		write func(path string) error
		want  string // in the journal
	}{
		{"garbage", func(p string) error { return os.WriteFile(p, []byte("{\"version\":1,\"subj"), 0o600) }, "decode alert state"},
		{"a newer version", func(p string) error { return os.WriteFile(p, []byte(`{"version":7,"whatever":[]}`), 0o600) }, "alert state file of another version: version 7"},
		{"a FIFO", func(p string) error { return syscall.Mkfifo(p, 0o600) }, "not a regular file"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			f, path := stateFixture(t, true, true)
			failPipe(f)
			f.round(t)
			os.Remove(path)
			if err := tt.write(path); err != nil {
				t.Fatal(err)
			}
			f.restart(t, nil)
			if !strings.Contains(f.logs.String(), `"msg":"saved alert state unusable; starting fresh: alerts still bad may be sent again","state_file":"`+path) ||
				!strings.Contains(f.logs.String(), tt.want) {
				t.Errorf("journal lacks the unusable file (%s):\n%s", tt.want, f.logs)
			}
			f.round(t)
			if got := f.coord.Got(); len(got) != 2 {
				t.Errorf("started fresh: %+v, want pipelock's alert again", got)
			}
			if tt.name == "a FIFO" {
				return // the FIFO is not replaced by a rename: it is a FIFO's own problem
			}
			f.restart(t, nil)
			f.round(t)
			if got := f.coord.Got(); len(got) != 2 {
				t.Errorf("the file written after the bad one: %+v, want no third alert", got)
			}
		})
	}
}

// TestStateFileWrites: the file is written when the state changed and
// not otherwise (a healthy fleet does not rewrite it every round); a
// failed write is logged once per outage, counted and shown in STATUS,
// and the next write that works says so.
func TestStateFileWrites(t *testing.T) {
	f, path := stateFixture(t, true, true)
	f.round(t)
	ino := func() uint64 {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	// A second link keeps the written inode alive, so a rewrite (a new
	// file renamed over the path) cannot get its number back.
	if err := os.Link(path, path+".held"); err != nil {
		t.Fatal(err)
	}
	first := ino()
	for range 5 {
		f.round(t)
	}
	if ino() != first {
		t.Errorf("healthy rounds rewrote the state file")
	}
	failPipe(f)
	f.round(t)
	if ino() == first {
		t.Errorf("an alert did not rewrite the state file")
	}

	g, _ := stateFixture(t, true, false)
	dir := filepath.Join(t.TempDir(), "not yet")
	missing := g.reparse(t, "", false, func(s string) string { return "state_file = \"" + dir + "/state.json\"\n" + s })
	g.restart(t, missing)
	for range 3 {
		failPipe(g)
		g.round(t)
	}
	if n := strings.Count(g.logs.String(), `"msg":"cannot save the alert state; after a restart alerts still bad would be sent again"`); n != 1 {
		t.Errorf("journal has %d lines for the failed writes, want 1:\n%s", n, g.logs)
	}
	if n := g.w.saveErrors.Load(); n < 2 {
		t.Errorf("saveErrors = %d, want every failed write counted", n)
	}
	if s := g.w.Status(); !strings.Contains(s, "alert state not saved: save alert state: write "+dir+"/state.json") {
		t.Errorf("Status = %q", s)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	g.round(t)
	if !strings.Contains(g.logs.String(), `"msg":"alert state saved again"`) || strings.Contains(g.w.Status(), "not saved") {
		t.Errorf("after the directory came: Status %q, journal:\n%s", g.w.Status(), g.logs)
	}
}
