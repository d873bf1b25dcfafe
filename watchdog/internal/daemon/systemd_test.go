package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/clemhq/clem/shared/coordapi"
	"github.com/clemhq/clem/shared/testutil/systemdns"
	"github.com/clemhq/clem/shared/testutil/users"
	"github.com/clemhq/clem/watchdog/internal/config"
	"github.com/clemhq/clem/watchdog/internal/coordtest"
	"github.com/clemhq/clem/watchdog/internal/statefile"
	"github.com/clemhq/clem/watchdog/internal/systemd"
)

// helperEnv makes the test binary, run inside a booted systemd as an
// unprivileged user, run watcher rounds against the real system bus and
// send its alerts to the coord socket in its arguments, instead of running
// tests: the watchdog as it runs in production, short of the unit.
const helperEnv = "WATCHDOG_ROUNDS_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(roundsMain(os.Args[1:]))
	}
	if os.Getenv(probeHelperEnv) == "1" {
		os.Exit(probeMain(os.Args[1:]))
	}
	goleak.VerifyTestMain(m)
}

// roundsMain: ROUNDS COORD_SOCKET UNIT... watches each unit as a daemon
// (role d0, d1, ...) for ROUNDS rounds, 15 s apart on a fake clock.
func roundsMain(args []string) int {
	if os.Geteuid() == 0 || len(args) < 3 {
		fmt.Fprintln(os.Stderr, "helper: want ROUNDS COORD_SOCKET UNIT..., as an unprivileged user")
		return 2
	}
	rounds, err := strconv.Atoi(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	toml := fmt.Sprintf("project = \"p\"\ninterval = \"15s\"\ncoord_socket = %q\n", args[1])
	for i, u := range args[2:] {
		toml += fmt.Sprintf("[[daemon]]\nrole = \"d%d\"\nunit = %q\n", i, u)
	}
	cfg, err := config.Parse("helper.toml", []byte(toml))
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	r := systemd.NewReader()
	defer r.Close()
	clock := &fakeClock{now: time.Now()}
	w := NewWatcher(cfg, Deps{Units: r, States: statefile.Files{}, Clock: clock,
		Health: func(context.Context, string) error { return nil },
		Sender: coordapi.NewClient(cfg.CoordSocket),
		Log:    slog.New(slog.NewJSONHandler(os.Stderr, nil))})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range rounds {
		clock.now = clock.now.Add(15 * time.Second)
		if err := w.Round(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "helper: round:", err)
			return 1
		}
		w.Flush(ctx)
	}
	if n := w.out.Len(); n > 0 {
		fmt.Fprintf(os.Stderr, "helper: %d alerts coord did not take\n", n)
		return 1
	}
	return 0
}

const (
	// unitExit is a Type=notify daemon whose main process exits 1 before
	// READY, with Restart=no: it ends failed at once.
	unitExit = "wdf-exit.service"
	// unitLimit exits 2 on every start under Restart=always until systemd
	// hits its start limit (3 starts) and leaves it failed: pipelock after a
	// squatter took its port (issue 15, item 15).
	unitLimit = "wdf-limit.service"
	// unitUp runs: the control, no alert.
	unitUp = "wdf-up.service"
)

var failingUnits = map[string]string{
	unitExit: "[Service]\nType=notify\nExecStart=/bin/sh -c 'exit 1'\nRestart=no\n",
	unitLimit: "[Unit]\nStartLimitIntervalSec=1h\nStartLimitBurst=3\n[Service]\nType=notify\n" +
		"ExecStart=/bin/sh -c 'exit 2'\nRestart=always\nRestartSec=10ms\n",
	unitUp: "[Service]\nType=simple\nExecStart=/bin/sleep infinity\n",
}

// TestFailedUnitAlertsRealSystemd boots systemd, lets two daemon units end
// failed (an exit with Restart=no; a restart loop that hits the start
// limit), and runs the watcher as an unprivileged user over the system bus:
// each failed unit is exactly one alert, at the first round, naming
// systemd's Result and the exit status; the running unit is none.
func TestFailedUnitAlertsRealSystemd(t *testing.T) {
	unitDir := t.TempDir()
	for name, body := range failingUnits {
		if err := os.WriteFile(filepath.Join(unitDir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := users.ExportTestBinary(t)
	// coord's socket, reachable by the helper's user through a bind.
	sockDir, err := os.MkdirTemp("", "wdf-coord-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	if err := os.Chmod(sockDir, 0o755); err != nil {
		t.Fatal(err)
	}
	coord := &coordtest.Alerts{Path: filepath.Join(sockDir, "coord.sock")}
	coord.Start(t)
	if err := os.Chmod(coord.Path, 0o666); err != nil {
		t.Fatal(err)
	}

	m := systemdns.Boot(t, systemdns.Options{Name: fmt.Sprintf("wdf-%d", os.Getpid()), Units: unitDir,
		Dbus: true, Binds: []string{filepath.Dir(bin), sockDir}})
	m.Systemctl(t, "start", unitUp)
	if _, _, code := m.Exec(t, "systemctl", "start", unitExit); code == 0 {
		t.Fatalf("systemctl start %s succeeded; the unit exits 1 before READY", unitExit)
	}
	m.Systemctl(t, "start", "--no-block", unitLimit)
	waitResult(t, m, unitExit, "exit-code")
	waitResult(t, m, unitLimit, "exit-code") // not start-limit-hit: see systemd.State.Restart

	// Control: the same helper against the running unit alone sends nothing.
	out, stderr, code := m.ExecAs(t, "nobody", "env", helperEnv+"=1", bin, "4", coord.Path, unitUp)
	if code != 0 {
		t.Fatalf("helper (running unit): exit %d\n%s%s", code, out, stderr)
	}
	if got := coord.Got(); len(got) != 0 {
		t.Fatalf("alerts for a running unit: %+v", got)
	}

	// One round: each failed unit alerts at once.
	out, stderr, code = m.ExecAs(t, "nobody", "env", helperEnv+"=1", bin, "1", coord.Path, unitUp, unitExit, unitLimit)
	if code != 0 {
		t.Fatalf("helper: exit %d\n%s%s", code, out, stderr)
	}
	got := coord.Got()
	want := map[string]string{
		"daemon d1": "daemon d1 (" + unitExit + "): unit failed (exit-code, main process exited with status 1).",
		// After automatic restarts systemd keeps the last failure's
		// result: Restart=always and the count tell that it gave up.
		"daemon d2": "daemon d2 (" + unitLimit + "): unit failed (exit-code, main process exited with status 2); systemd stopped restarting it after 3 restarts (its start limit)",
	}
	if len(got) != len(want) {
		t.Fatalf("after one round: %d alerts, want %d: %+v", len(got), len(want), got)
	}
	for _, a := range got {
		if w, ok := want[a.Subject]; !ok || a.Severity != coordapi.Critical || !strings.HasPrefix(a.Body, w) {
			t.Errorf("alert %+v, want critical %q...", a, w)
		}
	}

	// A watchdog that keeps watching them: still exactly one each.
	coord2 := len(got)
	out, stderr, code = m.ExecAs(t, "nobody", "env", helperEnv+"=1", bin, "6", coord.Path, unitUp, unitExit, unitLimit)
	if code != 0 {
		t.Fatalf("helper: exit %d\n%s%s", code, out, stderr)
	}
	if got := coord.Got()[coord2:]; len(got) != 2 {
		t.Errorf("six rounds of a fresh watchdog: %d alerts, want 2 (one per failed unit): %+v", len(got), got)
	}
}

// waitResult polls the unit until it is failed with result: systemd's
// restarts take their own time, and the test waits for the state itself.
func waitResult(t *testing.T, m *systemdns.Machine, unit, result string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		p := m.Show(t, unit, "ActiveState", "Result", "NRestarts")
		if p["ActiveState"] == "failed" && p["Result"] == result {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v, want failed with %s\n%s", unit, p, result, m.Journal(t, unit))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
