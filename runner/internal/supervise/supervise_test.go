package supervise

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clemhq/clem/runner/internal/agentcmd"
	"github.com/clemhq/clem/runner/internal/pane"
)

// inProcess runs the pane in a goroutine of the test: the CLI is still a
// real process in its own group.
type inProcess struct {
	mu   sync.Mutex
	view bytes.Buffer
	errs []error
	wg   sync.WaitGroup
}

func (l *inProcess) Launch(ctx context.Context, n int, socket string) error {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		var v bytes.Buffer
		err := pane.Run(context.Background(), socket, &v)
		l.mu.Lock()
		l.view.Write(v.Bytes())
		if err != nil {
			l.errs = append(l.errs, err)
		}
		l.mu.Unlock()
	}()
	return nil
}

// fakeCLI writes a shell script that plays an agent CLI and returns a spec
// running it; pidFile receives the pids of what it started.
func fakeCLI(t *testing.T, body string) (agentcmd.Spec, string) {
	t.Helper()
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	script := filepath.Join(dir, "cli.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return agentcmd.Spec{Runtime: "claude-code", Argv: []string{script}, Dir: dir, Stdin: "the prompt\n",
		Env: []string{"PATH=/usr/bin:/bin", "PIDS=" + pids}}, pids
}

func newSup(t *testing.T) (*Supervisor, *inProcess) {
	l := &inProcess{}
	t.Cleanup(l.wg.Wait) // every pane ends
	return &Supervisor{Launcher: l, SocketDir: t.TempDir(), StallTimeout: time.Second, MaxIteration: 20 * time.Second,
		KillGrace: time.Second, StartTimeout: 10 * time.Second}, l
}

// alive lists the pids in file still alive after a moment to finish dying
// (a process closes its pipes just before it becomes a zombie).
func alive(t *testing.T, file string) []int {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		live := aliveNow(t, file)
		if len(live) == 0 || time.Now().After(deadline) {
			return live
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func aliveNow(t *testing.T, file string) []int {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	var live []int
	for _, f := range strings.Fields(string(data)) {
		pid, _ := strconv.Atoi(f)
		if pid > 1 && !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) && !zombie(pid) {
			live = append(live, pid)
		}
	}
	return live
}

func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] == 'Z'
}

const initLine = `{"type":"system","subtype":"init","session_id":"s-1"}`
const resultLine = `{"type":"result","subtype":"success","is_error":false,"num_turns":1,"total_cost_usd":0.01,"result":"ok","session_id":"s-1"}`

// TestNormalExit: lines are counted and forwarded in order, stdin carries
// the prompt, the exit code arrives, and what the CLI left running in its
// group is killed after it exits.
func TestNormalExit(t *testing.T) {
	s, l := newSup(t)
	spec, pids := fakeCLI(t, `read p; sleep 300 & echo $! >> "$PIDS"
echo '`+initLine+`'
echo "{\"type\":\"assistant\",\"prompt\":\"$p\"}"
echo 'a warning' >&2
echo '`+resultLine+`'
exit 0`)
	var lines []string
	var stderr []string
	started := 0
	res := s.Run(context.Background(), 1, spec, Hooks{
		Started: func(pid int) { started = pid },
		Line:    func(b []byte, n int) { lines = append(lines, string(b)) },
		Stderr:  func(b []byte) { stderr = append(stderr, string(b)) },
	})
	if res.ExitCode != 0 || res.Stalled || res.TimedOut || res.Events != 3 || res.Error != "" {
		t.Fatalf("Run = %+v, want exit 0 after 3 events", res)
	}
	if started != res.PID || started <= 1 {
		t.Errorf("Started(%d), result pid %d", started, res.PID)
	}
	if len(lines) != 3 || lines[0] != initLine || lines[1] != `{"type":"assistant","prompt":"the prompt"}` || lines[2] != resultLine {
		t.Errorf("lines = %q", lines)
	}
	if len(stderr) != 1 || stderr[0] != "a warning" {
		t.Errorf("stderr = %q", stderr)
	}
	l.wg.Wait()
	if live := alive(t, pids); len(live) > 0 {
		t.Errorf("processes left in the CLI's group after it exited: %v", live)
	}
	if v := l.view.String(); !strings.Contains(v, "session s-1") || !strings.Contains(v, "■ done: 1 turns") {
		t.Errorf("pane view:\n%s", v)
	}
}

// TestStall: a CLI that prints two events and hangs (a child too) is killed,
// whole group, after the stall timeout.
func TestStall(t *testing.T) {
	s, l := newSup(t)
	spec, pids := fakeCLI(t, `echo $$ >> "$PIDS"
echo '`+initLine+`'
echo '{"type":"assistant"}'
sleep 300 & echo $! >> "$PIDS"
trap '' TERM
sleep 300`)
	t0 := time.Now()
	res := s.Run(context.Background(), 2, spec, Hooks{})
	took := time.Since(t0)
	if !res.Stalled || res.TimedOut || res.Events != 2 || res.ExitCode != -1 || !strings.Contains(res.Error, "stalled") {
		t.Fatalf("Run = %+v, want stalled after 2 events", res)
	}
	// The stall timer runs from the last event; TERM is ignored, so the
	// grace period passes before SIGKILL.
	if took < s.StallTimeout || took > s.StallTimeout+s.KillGrace+5*time.Second {
		t.Errorf("stall detected after %v (timeout %v, grace %v)", took, s.StallTimeout, s.KillGrace)
	}
	l.wg.Wait()
	if live := alive(t, pids); len(live) > 0 {
		t.Errorf("processes left after the stall kill: %v", live)
	}
}

// TestMaxIteration: a CLI that keeps talking but never ends is killed at
// the hard limit.
func TestMaxIteration(t *testing.T) {
	s, l := newSup(t)
	s.MaxIteration = 1500 * time.Millisecond
	// Events every 0.1 s, but a loaded machine may pause the script longer
	// than the default one-second stall timeout: only the hard limit may end it.
	s.StallTimeout = 10 * time.Second
	spec, pids := fakeCLI(t, `echo $$ >> "$PIDS"
while :; do echo '{"type":"assistant"}'; sleep 0.1; done`)
	res := s.Run(context.Background(), 3, spec, Hooks{})
	if !res.TimedOut || res.Stalled || res.Events < 5 {
		t.Fatalf("Run = %+v, want timed out after many events", res)
	}
	l.wg.Wait()
	if live := alive(t, pids); len(live) > 0 {
		t.Errorf("processes left after the hard limit: %v", live)
	}
}

// TestFailureAndStop: a failing CLI's stderr explains its exit code; a
// stopping runner kills the group.
func TestFailureAndStop(t *testing.T) {
	s, _ := newSup(t)
	spec, _ := fakeCLI(t, `echo 'boom: no credentials' >&2; exit 3`)
	res := s.Run(context.Background(), 4, spec, Hooks{})
	if res.ExitCode != 3 || res.Error != "boom: no credentials" {
		t.Errorf("Run = %+v, want exit 3 with the stderr line", res)
	}

	spec, pids := fakeCLI(t, `echo $$ >> "$PIDS"; echo '`+initLine+`'; sleep 300`)
	ctx, cancel := context.WithCancel(context.Background())
	s.StallTimeout = time.Minute
	go func() { time.Sleep(500 * time.Millisecond); cancel() }()
	res = s.Run(ctx, 5, spec, Hooks{})
	if !res.Stopped || res.Events != 1 {
		t.Errorf("Run = %+v, want stopped", res)
	}
	if live := alive(t, pids); len(live) > 0 {
		t.Errorf("processes left after stopping: %v", live)
	}

	spec.Argv = []string{"/nonexistent/cli"}
	res = s.Run(context.Background(), 6, spec, Hooks{})
	if res.ExitCode != -1 || !strings.Contains(res.Error, "/nonexistent/cli") {
		t.Errorf("Run(missing CLI) = %+v", res)
	}
}

// TestPaneNeverConnects: a launcher that does nothing fails the iteration
// at the start timeout instead of hanging.
func TestPaneNeverConnects(t *testing.T) {
	s, _ := newSup(t)
	s.Launcher = launchFunc(func(context.Context, int, string) error { return nil })
	s.StartTimeout = 300 * time.Millisecond
	res := s.Run(context.Background(), 7, agentcmd.Spec{Argv: []string{"/bin/true"}}, Hooks{})
	if res.ExitCode != -1 || !strings.Contains(res.Error, "did not connect") {
		t.Errorf("Run = %+v", res)
	}
	s.Launcher = launchFunc(func(context.Context, int, string) error { return errors.New("tmux: no server") })
	if res := s.Run(context.Background(), 8, agentcmd.Spec{Argv: []string{"/bin/true"}}, Hooks{}); !strings.Contains(res.Error, "tmux: no server") {
		t.Errorf("Run = %+v", res)
	}
}

type launchFunc func(context.Context, int, string) error

func (f launchFunc) Launch(ctx context.Context, n int, s string) error { return f(ctx, n, s) }
