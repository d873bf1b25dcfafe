package tests

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/runstate"
	"github.com/clemhq/clem/shared/testutil/users"
	"github.com/clemhq/clem/tests/claudecode"
	"github.com/clemhq/clem/tests/fakemodel"
)

// The runner end to end: the built binary as a real non-root user, the real
// Claude Code CLI against tests/fakemodel on loopback, real tmux, no coord.

const runnerKey = "sk-ant-fake-runner-e2e-0123456789"

// runnerEnv is one agent's files laid out like `clem provision` does: the
// config and prompt root-owned and group-readable, the state directory and
// home the agent's.
type runnerEnv struct {
	base, cfg, state, home string
	agent                  users.User
}

func newRunnerEnv(t *testing.T, extra string) *runnerEnv {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatalf("tmux is needed for the runner's session: apt-get install -y tmux (%v)", err)
	}
	base, err := os.MkdirTemp("", "clem-rn-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	e := &runnerEnv{base: base, agent: users.Add(t, "rne2e")}
	etc := filepath.Join(base, "etc")
	e.state, e.home = filepath.Join(base, "state"), filepath.Join(base, "home")
	for _, d := range []struct {
		path  string
		mode  os.FileMode
		owned bool
	}{{base, 0o755, false}, {etc, 0o755, false}, {e.state, 0o750, true}, {e.home, 0o700, true}} {
		if err := os.MkdirAll(d.path, d.mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d.path, d.mode)
		if d.owned {
			os.Chown(d.path, int(e.agent.UID), int(e.agent.GID))
		}
	}
	write := func(name, content string) string {
		p := filepath.Join(etc, name)
		if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		os.Chown(p, 0, int(e.agent.GID)) // root-owned, readable by the agent: as provisioned
		return p
	}
	prompt := write("prompt.md", "You are the runner e2e agent. "+fakemodel.Marker("runner-e2e")+"\n")
	mcp := write("mcp.json", `{"mcpServers":{}}`)
	settings := write("settings.json", `{"permissions":{"defaultMode":"bypassPermissions"}}`)
	e.cfg = write("runner.toml", fmt.Sprintf(`project = "e2e"
agent = "lead"
name = "Lead"
runtime = "claude-code"
model = "claude-sonnet-4-5"
effort = "low"
iteration = "2s"
iteration_night = "2s"
jitter = 0.0
permission_mode = "bypassPermissions"
prompt_file = %q
mcp_config = %q
settings = %q
state_dir = %q
work_dir = %q
coord_socket = %q
tmux_session = "clem-e2e"
claude_bin = %q
%s
[git]
name = "Lead"
email = "lead@users.noreply.clem.invalid"
[env]
DISABLE_AUTOUPDATER = "1"
DISABLE_TELEMETRY = "1"
DISABLE_ERROR_REPORTING = "1"
CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = "1"
CLAUDE_CODE_MAX_RETRIES = "0"
`, prompt, mcp, settings, e.state, e.home, filepath.Join(base, "coord-absent.sock"), claudecode.Path(t), extra))
	return e
}

// lockedBuffer collects a process's output from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// notifyListener is systemd's side of sd_notify: it keeps every datagram.
type notifyListener struct {
	path string
	mu   sync.Mutex
	msgs []string
}

func listenNotify(t *testing.T, dir string) *notifyListener {
	n := &notifyListener{path: filepath.Join(dir, "notify.sock")}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: n.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(n.path, 0o777)
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := c.Read(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, string(buf[:k]))
			n.mu.Unlock()
		}
	}()
	return n
}

func (n *notifyListener) has(prefix string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, m := range n.msgs {
		if strings.HasPrefix(m, prefix) {
			return true
		}
	}
	return false
}

// startRunner runs `runner run` as the agent with the unit's environment.
func (e *runnerEnv) startRunner(t *testing.T, env ...string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "runner"), "run", "-c", e.cfg)
	cmd.Dir = e.home
	cmd.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + e.home, "LANG=C.UTF-8"}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: &syscall.Credential{Uid: e.agent.UID, Gid: e.agent.GID}}
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start runner: %v", err)
	}
	t.Cleanup(func() {
		// Whatever happened, nothing of the agent survives the test. Its
		// group only while the runner is not reaped (after that the number
		// may be another process's group); the agent's uid is the test's
		// own.
		if cmd.ProcessState == nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		exec.Command("pkill", "-KILL", "-U", fmt.Sprint(e.agent.UID)).Run()
	})
	return cmd, out
}

// asAgent runs a command as the agent.
func (e *runnerEnv) asAgent(name string, args ...string) error {
	c := exec.Command(name, args...)
	c.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + e.home}
	c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: e.agent.UID, Gid: e.agent.GID}}
	return c.Run()
}

// waitHistory polls history.jsonl until it holds n iterations.
func (e *runnerEnv) waitHistory(t *testing.T, n int, within time.Duration, out *lockedBuffer) []runstate.Iteration {
	t.Helper()
	var h []runstate.Iteration
	if !poll(within, func() bool {
		var err error
		if h, err = runstate.ReadHistory(e.state, 0); err != nil {
			t.Fatal(err)
		}
		return len(h) >= n
	}) {
		t.Fatalf("%d iterations recorded after %v, want %d: %+v\nrunner output:\n%s", len(h), within, n, h, out.String())
	}
	return h
}

// TestRunnerE2E: iterations of the real CLI in tmux are recorded; a model
// that stalls mid-answer is killed after stall_timeout and the loop goes on;
// systemd hears READY, STATUS and WATCHDOG; SIGTERM stops everything.
func TestRunnerE2E(t *testing.T) {
	const stall = 6 * time.Second
	e := newRunnerEnv(t, fmt.Sprintf("stall_timeout = %q\nmax_iteration = \"2m\"\nkill_grace = \"2s\"", stall))
	model := fakemodel.Start(t, fakemodel.Config{Keys: []string{runnerKey}})
	model.SetScript("runner-e2e",
		fakemodel.Text("first iteration done"),
		fakemodel.Stall(),
		fakemodel.Text("third iteration done"),
		fakemodel.Text("more"), fakemodel.Text("more"), fakemodel.Text("more"), fakemodel.Text("more"))
	notify := listenNotify(t, e.base)

	cmd, out := e.startRunner(t, "ANTHROPIC_BASE_URL="+model.URL, "ANTHROPIC_API_KEY="+runnerKey,
		"NOTIFY_SOCKET="+notify.path, "WATCHDOG_USEC=4000000")
	hist := e.waitHistory(t, 3, 120*time.Second, out)

	first, second, third := hist[0], hist[1], hist[2]
	if first.Outcome() != "ok" || first.ExitCode != 0 || first.Turns != 1 || first.CostUSD <= 0 || first.SessionID == "" ||
		first.Result != "first iteration done" || first.InputTokens <= 0 || first.Iteration != 1 {
		t.Errorf("iteration 1 = %+v, want ok with 1 turn, a cost and a session id", first)
	}
	if !second.Stalled || second.Outcome() != "stalled" || second.ExitCode != -1 || !strings.Contains(second.Error, "stalled") {
		t.Errorf("iteration 2 = %+v, want stalled", second)
	}
	if d := second.Duration(); d < stall || d > stall+30*time.Second {
		t.Errorf("the stall was handled after %v, want between stall_timeout %v and +30s", d, stall)
	}
	if third.Outcome() != "ok" || third.Result != "third iteration done" || third.SessionID == first.SessionID {
		t.Errorf("iteration 3 = %+v, want ok with a new session", third)
	}
	for _, n := range []int{1, 2} {
		data, err := os.ReadFile(runstate.TranscriptPath(e.state, n))
		if err != nil || !strings.Contains(string(data), `"subtype":"init"`) {
			t.Errorf("transcript %d: %v, want the stream-json with its init line:\n%.500s", n, err, data)
		}
		if n == 1 && !strings.Contains(string(data), `"type":"result"`) {
			t.Errorf("transcript 1 has no result line")
		}
	}
	st, err := runstate.Read(runstate.StatePath(e.state))
	if err != nil {
		t.Fatal(err)
	}
	if st.Agent != "lead" || st.Stalls < 1 || st.Today.Iterations < 3 || st.Today.CostUSD <= 0 || st.Last == nil || st.Iteration < 3 {
		t.Errorf("state = %+v", st)
	}
	if fi, err := os.Stat(runstate.StatePath(e.state)); err != nil || fi.Sys().(*syscall.Stat_t).Uid != e.agent.UID {
		t.Errorf("state.json not owned by the agent: %v", err)
	}
	if err := e.asAgent("tmux", "-S", runstate.TmuxSocketPath(e.state), "has-session", "-t", "clem-e2e"); err != nil {
		t.Errorf("tmux session clem-e2e on %s: %v", runstate.TmuxSocketPath(e.state), err)
	}
	reqs := model.MessageRequests("runner-e2e")
	if len(reqs) < 3 {
		t.Fatalf("the fake saw %d requests in the conversation, want 3 or more", len(reqs))
	}
	for _, r := range reqs {
		if k, _ := r.Credential(); k != runnerKey {
			t.Errorf("request %d carried another credential", r.Seq)
		}
		if p := r.Messages.Prompt(); !strings.Contains(p, "You are the runner e2e agent.") || !strings.Contains(p, "# Inbox") {
			t.Errorf("prompt = %q, want the role prompt and the inbox section", p)
		}
	}
	if p := model.Problems(); len(p) != 0 {
		t.Errorf("fake model problems: %v", p)
	}
	for _, want := range []string{"READY=1", "STATUS=iteration ", "WATCHDOG=1"} {
		if !notify.has(want) {
			t.Errorf("systemd never got %q", want)
		}
	}

	// SIGTERM: the runner kills its session and everything in it, exits 0.
	syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("runner exit after SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("runner still running 40s after SIGTERM:\n%s", out.String())
	}
	poll(10*time.Second, func() bool { return len(processesOf(t, e.agent.UID)) == 0 })
	if left := processesOf(t, e.agent.UID); len(left) > 0 {
		t.Errorf("processes of the agent left after the runner stopped: %v", left)
	}
	if st, err := runstate.Read(runstate.StatePath(e.state)); err != nil || st.Phase != runstate.Stopping {
		t.Errorf("final state %+v, %v; want phase stopping", st, err)
	}
	if strings.Contains(out.String(), runnerKey) {
		t.Errorf("the runner logged the credential")
	}
}

// TestRunnerCheck: `runner check` accepts what provision writes and names
// the line of a mistake.
func TestRunnerCheck(t *testing.T) {
	e := newRunnerEnv(t, "")
	r := runBin(t, e.base, nil, "", "runner", "check", "-c", e.cfg)
	if r.code != 0 || !strings.Contains(r.stdout, "ok: "+e.cfg+": agent lead (Lead), runtime claude-code") ||
		!strings.Contains(r.stdout, "claude -p --output-format stream-json --verbose --model claude-sonnet-4-5 --effort low --permission-mode bypassPermissions --mcp-config") {
		t.Errorf("runner check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	data, _ := os.ReadFile(e.cfg)
	bad := filepath.Join(e.base, "bad.toml")
	os.WriteFile(bad, bytes.Replace(data, []byte(`effort = "low"`), []byte("effort = \"low\"\nstall_timout = \"5m\""), 1), 0o600)
	r = runBin(t, e.base, nil, "", "runner", "check", "-c", bad)
	if r.code != 1 || !strings.Contains(r.stderr, bad+`:7: unknown key "stall_timout"`) {
		t.Errorf("runner check of a typo: exit %d, stderr %q", r.code, r.stderr)
	}
}
