package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/coordapi"
	"github.com/clemhq/clem/shared/testutil/notifysock"
	"github.com/clemhq/clem/shared/testutil/syncbuf"
	"github.com/clemhq/clem/watchdog/internal/config"
	"github.com/clemhq/clem/watchdog/internal/coordtest"
	"github.com/clemhq/clem/watchdog/internal/outbox"
	"github.com/clemhq/clem/watchdog/internal/systemd"
)

// watchedUnits is fakeUnits that announces each read of a unit.
type watchedUnits struct {
	*fakeUnits
	reads chan string
}

func (u *watchedUnits) Unit(ctx context.Context, name string) (systemd.State, error) {
	st, err := u.fakeUnits.Unit(ctx, name)
	select {
	case u.reads <- name:
	default:
	}
	return st, err
}

// waitReads waits until unit has been read n more times.
func (u *watchedUnits) waitReads(t *testing.T, unit string, n int) {
	t.Helper()
	deadline := time.After(time.Minute)
	for n > 0 {
		select {
		case got := <-u.reads:
			if got == unit {
				n--
			}
		case <-deadline:
			t.Fatalf("%s not read %d more times", unit, n)
		}
	}
}

const coordUnit = "clem-p-coord.service"

// served is a watchdog running from a config file, as `watchdog run`
// runs it, with fakes for systemd and the daemons' health.
type served struct {
	dir, path, admin string
	units            *watchedUnits
	coord            *coordtest.Alerts
	sighup           chan os.Signal
	logs             *syncbuf.Buffer
	stop             func() error
}

// serveConfig is a watchdog.toml for dir with extra tables appended.
func serveConfig(dir, extra string) string {
	return fmt.Sprintf(`project = "p"
interval = "1s"
coord_socket = %q
[admin]
socket = %q
[alert]
failures = 3
window = "30m"
cooldown = "1h"
[[agent]]
key = "lead"
unit = %q
state_file = %q
[[daemon]]
role = "pipelock"
unit = %q
health = "/run/clem/p/pipelock/admin.sock"
`, filepath.Join(dir, "coord.sock"), filepath.Join(dir, "admin.sock"), leadUnit, leadFile, pipeUnit) + extra
}

func startServed(t *testing.T, edit func(*fakeUnits)) *served {
	t.Helper()
	return startServedIn(t, t.TempDir(), "", edit, nil)
}

// startServedIn runs a watchdog from dir (again, for a restart), with top
// prepended to its config; coord nil starts a coord of its own.
func startServedIn(t *testing.T, dir, top string, edit func(*fakeUnits), coord *coordtest.Alerts) *served {
	t.Helper()
	s := &served{dir: dir, path: filepath.Join(dir, "watchdog.toml"), admin: filepath.Join(dir, "admin.sock"),
		coord: coord, sighup: make(chan os.Signal, 1), logs: &syncbuf.Buffer{}}
	s.write(t, top+serveConfig(dir, ""))
	if coord == nil {
		s.coord = &coordtest.Alerts{Path: filepath.Join(dir, "coord.sock")}
		s.coord.Start(t)
	}
	cfg, err := config.Load(s.path)
	if err != nil {
		t.Fatal(err)
	}
	running := systemd.State{LoadState: "loaded", ActiveState: "active", SubState: "running", Result: "success", MainPID: 42}
	lead, pipe, cu := running, running, running
	lead.Name, pipe.Name, cu.Name = leadUnit, pipeUnit, coordUnit
	fu := &fakeUnits{units: map[string]systemd.State{leadUnit: lead, pipeUnit: pipe, coordUnit: cu}}
	if edit != nil {
		edit(fu)
	}
	s.units = &watchedUnits{fakeUnits: fu, reads: make(chan string, 1000)}
	states := fakeStates{leadFile: {PID: 42, Phase: "sleeping", Updated: time.Now(), NextAt: time.Now().Add(time.Hour)}}
	wd := New(cfg, Deps{
		Units: s.units, States: states, Clock: SystemClock{},
		Health: func(context.Context, string) error { return nil },
		Log:    slog.New(slog.NewJSONHandler(s.logs, nil)),
	}, Options{
		Path:      s.path,
		NewSender: func(socket string) outbox.Sender { return coordapi.NewClient(socket) },
		Signals:   s.sighup,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- wd.Serve(ctx) }()
	var once sync.Once
	var stopErr error
	s.stop = func() error {
		once.Do(func() { cancel(); stopErr = <-done })
		return stopErr
	}
	t.Cleanup(func() { s.stop() })
	return s
}

func (s *served) write(t *testing.T, toml string) {
	t.Helper()
	if err := os.WriteFile(s.path, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestServeNotifies: READY only after a round that could read systemd,
// then STATUS, WATCHDOG pings while the probe passes, /healthz failing
// when systemd cannot be read, STOPPING at the end.
func TestServeNotifies(t *testing.T) {
	sd := notifysock.Listen(t, 2*time.Second)
	s := startServed(t, func(u *fakeUnits) { u.down = true })
	s.units.waitReads(t, leadUnit, 2) // two blind rounds
	if sent := sd.Pending(); len(sent) > 0 {
		t.Fatalf("sent %q while no round could read systemd", sent)
	}
	if _, err := os.Stat(s.admin); err == nil {
		t.Errorf("admin socket open before READY")
	}
	s.units.mu.Lock()
	s.units.down = false
	s.units.mu.Unlock()
	sd.UntilPrefix("READY=1")
	sd.UntilPrefix("STATUS=2 units ok")
	sd.UntilPrefix("WATCHDOG=1")
	if code, body := admin(t, s.admin, "GET", "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q, want 200 ok", code, body)
	}
	s.units.mu.Lock()
	s.units.down = true
	s.units.mu.Unlock()
	if code, body := admin(t, s.admin, "GET", "/healthz"); code != 503 || !strings.HasPrefix(body, "cannot read systemd over D-Bus (unit "+leadUnit+"): system bus unreachable") {
		t.Errorf("/healthz with the bus gone = %d %q, want 503 naming D-Bus", code, body)
	}
	if err := s.stop(); err != nil {
		t.Errorf("Serve = %v", err)
	}
	sd.UntilPrefix("STOPPING=1")
	if _, err := os.Stat(s.admin); err == nil {
		t.Errorf("admin socket left behind after the stop")
	}
}

// TestReloadThroughAdminSocket: POST /reload and SIGHUP re-read
// watchdog.toml. A bad file is refused with its file:line and the old
// config keeps serving; a good one is applied, and a subject alerting
// before it keeps its alert: no second alert, and its recovery comes.
func TestReloadThroughAdminSocket(t *testing.T) {
	sd := notifysock.Listen(t, time.Minute)
	s := startServed(t, func(u *fakeUnits) {
		st := u.units[pipeUnit]
		st.ActiveState, st.SubState, st.Result, st.MainPID = "failed", "failed", "exit-code", 0
		u.units[pipeUnit] = st
	})
	sd.UntilPrefix("READY=1")
	got := s.coord.Wait(t, 1)
	if got[0].Subject != "daemon pipelock" || got[0].Severity != coordapi.Critical {
		t.Fatalf("alerts %+v, want pipelock failed", got)
	}

	bad := serveConfig(s.dir, "colour = 1\n")
	s.write(t, bad)
	code, body := admin(t, s.admin, "POST", "/reload")
	if want := s.path + ":18: unknown key \"daemon.colour\""; code != 400 || !strings.Contains(body, "the old config keeps serving") || !strings.Contains(body, want) {
		t.Errorf("POST /reload of a bad config = %d %q, want 400 with %q", code, body, want)
	}
	sd.UntilPrefix("RELOADING=1")
	sd.UntilPrefix("STATUS=")
	s.sighup <- syscall.SIGHUP
	sd.UntilPrefix("RELOADING=1")
	sd.UntilPrefix("STATUS=")
	_, metrics := admin(t, s.admin, "GET", "/metrics")
	for _, want := range []string{`clem_daemon_reload_errors_total{daemon="watchdog"} 2`, `clem_daemon_reloads_total{daemon="watchdog"} 0`, "clem_watchdog_subjects 2\n", "clem_watchdog_alerts_total 1\n"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("after two refused reloads, /metrics lacks %q:\n%s", want, metrics)
		}
	}
	if code, _ := admin(t, s.admin, "GET", "/healthz"); code != 200 {
		t.Errorf("/healthz after a refused reload = %d", code)
	}
	if !strings.Contains(s.logs.String(), `"msg":"reload refused; the old config keeps serving","daemon":"watchdog","err":"`+s.path+`:18: unknown key`) {
		t.Errorf("the journal lacks the refused SIGHUP reload:\n%s", s.logs)
	}

	s.write(t, serveConfig(s.dir, "[[daemon]]\nrole = \"coord\"\nunit = \""+coordUnit+"\"\n"))
	if code, body := admin(t, s.admin, "POST", "/reload"); code != 200 || body != "reloaded\n" {
		t.Fatalf("POST /reload of a good config = %d %q", code, body)
	}
	sd.UntilPrefix("RELOADING=1")
	sd.UntilPrefix("STATUS=")
	if _, metrics := admin(t, s.admin, "GET", "/metrics"); !strings.Contains(metrics, "clem_watchdog_subjects 3\n") {
		t.Errorf("after the reload, /metrics:\n%s", metrics)
	}
	s.units.waitReads(t, coordUnit, 2)
	if got := s.coord.Got(); len(got) != 1 {
		t.Fatalf("after the reload pipelock, still failed, alerted again: %+v", got)
	}

	// SIGHUP applies a good config too: back to two subjects.
	s.write(t, serveConfig(s.dir, ""))
	s.sighup <- syscall.SIGHUP
	sd.UntilPrefix("RELOADING=1")
	sd.UntilPrefix("STATUS=")
	if _, metrics := admin(t, s.admin, "GET", "/metrics"); !strings.Contains(metrics, "clem_watchdog_subjects 2\n") || !strings.Contains(metrics, `clem_daemon_reloads_total{daemon="watchdog"} 2`) {
		t.Errorf("after SIGHUP, /metrics:\n%s", metrics)
	}

	// pipelock runs again: the alert from before both reloads recovers.
	s.units.set(pipeUnit, func(st *systemd.State) {
		st.ActiveState, st.SubState, st.Result, st.MainPID = "active", "running", "success", 43
	})
	got = s.coord.Wait(t, 2)
	if len(got) != 2 || got[1].Severity != coordapi.Resolved || got[1].Subject != "daemon pipelock" {
		t.Fatalf("alerts %+v, want pipelock's recovery", got)
	}
	if err := s.stop(); err != nil {
		t.Errorf("Serve = %v", err)
	}
}
