package egress

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/clemhq/clem/shared/egressstate"
	"github.com/clemhq/clem/shared/testutil/netns"
)

// logWriter sends the guard's log lines to the test's log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// runningGuard is a guard on its own thread in the test's namespace.
type runningGuard struct {
	g      *Guard
	cancel context.CancelFunc
	done   chan error
}

// startGuard starts a guard on a thread moved into the calling thread's
// namespace and returns once it called Ready; readyErr is Verify's verdict
// at that moment (the table must be in place before READY).
func startGuard(t *testing.T, cfg GuardConfig) (rg *runningGuard, readyErr error) {
	t.Helper()
	ns, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	var st unix.Stat_t
	if err := unix.Fstat(int(ns.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	ready := make(chan error, 1)
	cfg.Ready = func() { ready <- Verify(cfg.Spec) }
	cfg.Log = slog.New(slog.NewTextHandler(logWriter{t}, nil))
	g, err := NewGuard(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rg = &runningGuard{g: g, cancel: cancel, done: make(chan error, 1)}
	go func() { rg.done <- inNamespace(ns, st.Ino, func() error { return g.Run(ctx) }) }()
	select {
	case readyErr = <-ready:
	case err := <-rg.done:
		t.Fatalf("guard ended before it was ready: %v", err)
	}
	return rg, readyErr
}

// stop ends the guard and reports what Run returned.
func (rg *runningGuard) stop() error {
	rg.cancel()
	return <-rg.done
}

// waitState blocks until the state file satisfies cond, woken by the
// file's own writes (inotify on its directory), not by a clock. The poll
// timeout only turns a hang into a failure with the last state shown.
func waitState(t *testing.T, path string, rg *runningGuard, cond func(*egressstate.State) bool) *egressstate.State {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := unix.InotifyAddWatch(fd, filepath.Dir(path), unix.IN_MOVED_TO|unix.IN_CLOSE_WRITE); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		st, err := egressstate.Read(path)
		if err == nil && cond(st) {
			return st
		}
		n, perr := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 60_000)
		if perr == unix.EINTR {
			continue
		}
		if perr != nil || n == 0 {
			select {
			case gerr := <-rg.done:
				t.Fatalf("guard ended (%v); state file: %+v, %v", gerr, st, err)
			default:
			}
			t.Fatalf("state file %s never reached the expected state: %+v, %v (poll: %v)", path, st, err, perr)
		}
		unix.Read(fd, buf)
	}
}

// TestGuardRestoresOnEvents: with a period of an hour, only the kernel's
// change events can wake the guard. Each tamper (one commit each) is
// found, counted exactly once with its difference, and repaired. Control:
// with the guard stopped, the same tamper stays.
func TestGuardRestoresOnEvents(t *testing.T) {
	s := testSpec("clem_guard")
	tb := &nftables.Table{Family: nftables.TableFamilyINet, Name: s.Table}
	state := filepath.Join(t.TempDir(), egressstate.FileName)
	tampers := []struct {
		name   string
		tamper func(c *nftables.Conn)
		diff   string
	}{
		{"delete the table", func(c *nftables.Conn) { c.DelTable(tb) }, "table inet clem_guard is missing"},
		{"flush an agent chain", func(c *nftables.Conn) {
			c.FlushChain(&nftables.Chain{Name: "agent_alice", Table: tb})
		}, `missing rule in chain agent_alice: "alice: reject the rest"`},
		{"insert an accept rule", func(c *nftables.Conn) {
			c.InsertRule(&nftables.Rule{Table: tb, Chain: &nftables.Chain{Name: "agent_bob", Table: tb},
				Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}}})
		}, "extra rule in chain agent_bob: (handle"},
	}
	tamper := func(t *testing.T, f func(*nftables.Conn)) {
		t.Helper()
		c, err := nftables.New()
		if err != nil {
			t.Fatal(err)
		}
		f(c)
		if err := c.Flush(); err != nil {
			t.Fatalf("tamper: %v", err)
		}
	}
	netns.Run(t, func() {
		rg, readyErr := startGuard(t, GuardConfig{Project: "guard", Spec: s, StatePath: state, Period: time.Hour})
		if readyErr != nil {
			t.Errorf("Verify when the guard said ready: %v; want the table in place", readyErr)
		}
		for i, tt := range tampers {
			n := uint64(i + 1)
			tamper(t, tt.tamper)
			st := waitState(t, state, rg, func(st *egressstate.State) bool { return st.Restored >= n })
			if st.Tampered != n || st.Restored != n || !st.OK || st.RestoreError != "" {
				t.Errorf("%s: state %+v, want tampered and restored %d, ok", tt.name, st, n)
			}
			if !strings.Contains(st.LastDiff, tt.diff) {
				t.Errorf("%s: last_diff %q, want it to contain %q", tt.name, st.LastDiff, tt.diff)
			}
			if err := Verify(s); err != nil {
				t.Errorf("%s: after the restore: %v", tt.name, err)
			}
		}
		// The restores' own commits woke the guard too; a check made now,
		// after those events, still counts each tamper once.
		if !rg.g.Healthy(context.Background()) {
			t.Error("Healthy() = false with the table in place")
		}
		st, err := egressstate.Read(state)
		if err != nil || st.Tampered != 3 || st.Restored != 3 || st.Project != "guard" {
			t.Errorf("state after three tampers = %+v, %v; want each counted once", st, err)
		}
		if err := rg.stop(); err != nil {
			t.Errorf("guard Run: %v", err)
		}

		// Control: nobody restores a table deleted while no guard runs.
		tamper(t, tampers[0].tamper)
		if err := Verify(s); err == nil || !strings.Contains(err.Error(), "is missing") {
			t.Errorf("Verify with the guard stopped = %v, want the table missing", err)
		}

		// A restarted guard puts the table back before READY and goes on
		// counting from the file.
		rg, readyErr = startGuard(t, GuardConfig{Project: "guard", Spec: s, StatePath: state, Period: time.Hour})
		if readyErr != nil {
			t.Errorf("Verify when the restarted guard said ready: %v", readyErr)
		}
		tamper(t, tampers[2].tamper)
		st = waitState(t, state, rg, func(st *egressstate.State) bool { return st.Restored >= 4 })
		if st.Tampered != 4 {
			t.Errorf("after a restart and one more tamper: tampered %d, want 4", st.Tampered)
		}
		if err := rg.stop(); err != nil {
			t.Errorf("restarted guard Run: %v", err)
		}
	})
}

// TestGuardPeriodBackstop: with no change events at all, the periodic
// comparison alone still finds and repairs a deleted table.
func TestGuardPeriodBackstop(t *testing.T) {
	s := testSpec("clem_backstop")
	state := filepath.Join(t.TempDir(), egressstate.FileName)
	netns.Run(t, func() {
		rg, readyErr := startGuard(t, GuardConfig{Project: "backstop", Spec: s, StatePath: state, Period: 10 * time.Millisecond, noEvents: true})
		if readyErr != nil {
			t.Errorf("Verify at ready: %v", readyErr)
		}
		if err := Delete(s.Table); err != nil {
			t.Fatal(err)
		}
		st := waitState(t, state, rg, func(st *egressstate.State) bool { return st.Restored >= 1 })
		if st.Tampered != 1 || !strings.Contains(st.LastDiff, "is missing") {
			t.Errorf("state %+v, want one tamper: the table missing", st)
		}
		if err := rg.stop(); err != nil {
			t.Errorf("guard Run: %v", err)
		}
		if err := Verify(s); err != nil {
			t.Errorf("after the backstop's restore: %v", err)
		}
	})
}
