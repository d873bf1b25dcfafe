package systemd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/clemhq/clem/shared/testutil/systemdns"
	"github.com/clemhq/clem/shared/testutil/users"
)

// helperEnv makes the test binary, run inside the namespace as an
// unprivileged user, read the units named in its arguments and print their
// states as JSON instead of running tests.
const helperEnv = "WATCHDOG_SYSTEMD_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(helperMain(os.Args[1:]))
	}
	goleak.VerifyTestMain(m)
}

func helperMain(units []string) int {
	if os.Getuid() == 0 || os.Geteuid() == 0 {
		fmt.Fprintln(os.Stderr, "helper: runs as root; the test wants an unprivileged reader")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := NewReader()
	defer r.Close()
	out := map[string]any{}
	for _, u := range units {
		st, err := r.Unit(ctx, u)
		if err != nil {
			out[u] = map[string]string{"error": err.Error()}
			continue
		}
		out[u] = st
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		return 1
	}
	return 0
}

// reader is the unprivileged user the reader runs as inside the machine:
// nobody, which every host has (the machine reads the host's passwd).
const reader = "nobody"

const (
	unitOK = "wdt-ok.service"
	// unitLoop exits 1 shortly after each start and is restarted forever.
	unitLoop = "wdt-loop.service"
	// unitPre never starts: its ExecStartPre= fails, as an agent's egress
	// verification does when the table is gone.
	unitPre = "wdt-pre.service"
	// unitMain passes its ExecStartPre= and fails in the main process once.
	unitMain = "wdt-main.service"
	unitNone = "wdt-missing.service"
)

var testUnits = map[string]string{
	unitOK: "[Service]\nType=simple\nExecStart=/bin/sleep infinity\n",
	unitLoop: "[Unit]\nStartLimitIntervalSec=0\n[Service]\nType=simple\n" +
		"ExecStart=/bin/sh -c 'sleep 0.1; exit 1'\nRestart=always\nRestartSec=100ms\n",
	unitPre: "[Unit]\nStartLimitIntervalSec=0\n[Service]\nType=simple\n" +
		"ExecStartPre=/bin/true\nExecStartPre=+/bin/sh -c 'exit 3'\nExecStart=/bin/sleep infinity\nRestart=always\nRestartSec=100ms\n",
	unitMain: "[Service]\nType=simple\nExecStartPre=/bin/true\nExecStart=/bin/sh -c 'exit 1'\n",
}

// TestReaderRealSystemd boots systemd with a healthy unit, one in a restart
// loop, one whose ExecStartPre= fails and one whose main process failed,
// and reads them through the system bus as an unprivileged user.
func TestReaderRealSystemd(t *testing.T) {
	unitDir := t.TempDir()
	for name, body := range testUnits {
		if err := os.WriteFile(filepath.Join(unitDir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := users.ExportTestBinary(t)
	m := systemdns.Boot(t, systemdns.Options{Name: fmt.Sprintf("wdt-%d", os.Getpid()), Units: unitDir,
		Dbus: true, Binds: []string{filepath.Dir(bin)}})
	m.Systemctl(t, "start", unitOK, unitMain)
	m.Systemctl(t, "start", "--no-block", unitLoop, unitPre)

	read := func() map[string]State {
		t.Helper()
		out, stderr, code := m.ExecAs(t, reader, append([]string{"env", helperEnv + "=1", bin}, unitOK, unitLoop, unitPre, unitMain, unitNone)...)
		if code != 0 {
			t.Fatalf("reader as %s: exit %d\n%s", reader, code, stderr)
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(out), &raw); err != nil {
			t.Fatalf("reader output %q: %v", out, err)
		}
		states := map[string]State{}
		for u, m := range raw {
			var e struct{ Error string }
			if json.Unmarshal(m, &e) == nil && e.Error != "" {
				t.Fatalf("reading %s: %s", u, e.Error)
			}
			var st State
			if err := json.Unmarshal(m, &st); err != nil {
				t.Fatal(err)
			}
			states[u] = st
		}
		return states
	}

	var first map[string]State
	// The properties are read one by one, so a read can straddle a state
	// change (auto-restart with the old main pid and result): wait for a
	// read that is settled, running or failed with its result.
	waitFor(t, 20*time.Second, "the restart loop and the failing ExecStartPre to restart twice", func() bool {
		first = read()
		loop := first[unitLoop]
		settled := loop.Running() || loop.Result == "exit-code"
		// the failing unit between two attempts, not inside one (its
		// first step running, the result reset to success)
		_, preSettled := first[unitPre].StartPreFailure()
		return loop.NRestarts >= 2 && first[unitPre].NRestarts >= 2 && settled && preSettled && first[unitPre].Result == "exit-code"
	})

	ok := first[unitOK]
	if !ok.Running() || ok.SubState != "running" || ok.NRestarts != 0 || ok.MainPID == 0 || ok.LoadState != "loaded" || ok.ActiveEnter == 0 {
		t.Errorf("%s = %+v, want loaded, active running, a main pid, no restarts", unitOK, ok)
	}
	if _, failed := ok.StartPreFailure(); failed {
		t.Errorf("%s: StartPreFailure reports a failure for a unit without ExecStartPre", unitOK)
	}

	loop := first[unitLoop]
	if !loop.Running() && (loop.Result != "exit-code" || loop.MainOutcome() != "exited with status 1") {
		// between two runs; while it runs, systemd reports success
		t.Errorf("%s = %+v, want Result exit-code, exited with status 1", unitLoop, loop)
	}
	if loop.Restart != "always" || first[unitMain].Restart != "no" {
		t.Errorf("Restart = %q and %q, want always and no", loop.Restart, first[unitMain].Restart)
	}
	if loop.ExecMainStart == 0 {
		t.Errorf("%s: ExecMainStart 0, want the main process's start", unitLoop)
	}
	if _, failed := loop.StartPreFailure(); failed {
		t.Errorf("%s: StartPreFailure for a unit whose main process fails", unitLoop)
	}

	pre := first[unitPre]
	if pre.Running() || pre.Result != "exit-code" || pre.MainPID != 0 {
		t.Errorf("%s = %+v, want not running, Result exit-code, no main pid", unitPre, pre)
	}
	if len(pre.StartPre) != 2 || pre.StartPre[0].Path != "/bin/true" || pre.StartPre[1].Path != "/bin/sh" {
		t.Fatalf("%s: StartPre = %+v, want /bin/true then /bin/sh", unitPre, pre.StartPre)
	}
	if e, failed := pre.StartPreFailure(); !failed || e.Path != "/bin/sh" || e.Outcome() != "exited with status 3" || e.Command() != "/bin/sh -c exit 3" {
		t.Errorf("%s: StartPreFailure = %+v, %v; want /bin/sh exited with status 3", unitPre, e, failed)
	}

	main := first[unitMain]
	if main.ActiveState != "failed" || main.Result != "exit-code" || main.MainOutcome() != "exited with status 1" || main.NRestarts != 0 {
		t.Errorf("%s = %+v, want failed, exit-code, exited with status 1", unitMain, main)
	}
	if e, failed := main.StartPreFailure(); failed {
		t.Errorf("%s: StartPreFailure = %+v for a unit whose ExecStartPre passed and main failed", unitMain, e)
	}

	if none := first[unitNone]; none.LoadState != "not-found" || none.Running() {
		t.Errorf("%s = %+v, want LoadState not-found", unitNone, none)
	}

	// The restart count keeps growing and the reader sees it grow.
	waitFor(t, 20*time.Second, "NRestarts to grow", func() bool {
		return read()[unitLoop].NRestarts > first[unitLoop].NRestarts
	})

	// An unprivileged reader cannot change anything: the bus refuses it.
	if out, errOut, code := m.ExecAs(t, reader, "systemctl", "stop", unitOK); code == 0 {
		t.Errorf("systemctl stop as %s succeeded; the test's premise (no polkit, read-only bus) is wrong: %s%s", reader, out, errOut)
	}
}

// waitFor polls cond every 20 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
