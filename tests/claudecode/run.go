package claudecode

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/agentstream"
	"github.com/clemhq/clem/shared/procgroup"
	"github.com/clemhq/clem/shared/testutil/users"
)

// DefaultModel is the --model when Options.Model is empty.
const DefaultModel = "claude-sonnet-4-5"

// DefaultTimeout bounds a run when Options.Timeout is zero.
const DefaultTimeout = 90 * time.Second

// QuietEnv switches off everything the CLI would reach besides the base URL
// (telemetry, error reports, updates, nonessential traffic) and its retries
// (a refused key would otherwise retry for minutes).
var QuietEnv = []string{
	"DISABLE_TELEMETRY=1",
	"DISABLE_ERROR_REPORTING=1",
	"DISABLE_AUTOUPDATER=1",
	"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
	"CLAUDE_CODE_MAX_RETRIES=0",
}

// Options describe one headless run: claude -p Prompt --output-format
// stream-json --verbose --model Model --permission-mode PermissionMode Args...
type Options struct {
	Bin     string // default Path(t)
	Prompt  string
	Model   string // default DefaultModel
	BaseURL string // ANTHROPIC_BASE_URL; empty: the CLI's own (api.anthropic.com)
	// APIKey is ANTHROPIC_API_KEY (sent as X-Api-Key); OAuthToken is
	// CLAUDE_CODE_OAUTH_TOKEN (sent as Authorization: Bearer).
	APIKey     string
	OAuthToken string
	// PermissionMode defaults to bypassPermissions, which the CLI refuses
	// as root: give User.
	PermissionMode string
	// User runs the CLI as that user; nil: as the test process.
	User *users.User
	// Home is HOME, created (owned by User, mode 0700) when empty and
	// removed after the test. CLAUDE_CODE_TMPDIR is Home/tmp, made if
	// missing. Give the same Home to runs that --resume or --continue.
	Home string
	// Dir is the working directory; default Home.
	Dir  string
	Args []string // more flags: --mcp-config, --append-system-prompt, --max-turns ...
	// Env is added after the base environment and wins over it
	// (HTTPS_PROXY, NODE_EXTRA_CA_CERTS, ENABLE_TOOL_SEARCH ...).
	Env     []string
	Timeout time.Duration // default DefaultTimeout; then the process group is killed
}

// Result is what one run produced.
type Result struct {
	ExitCode  int  // -1 when killed
	TimedOut  bool // killed at Options.Timeout
	Duration  time.Duration
	FirstLine time.Duration // start to the first stdout line (the init line): startup time
	Stdout    string
	Stderr    string
	Events    []Event
	Init      *Init  // the system/init line, nil if none
	Final     *Final // the result line, nil if none
	BadLines  []string
	Home      string
	Argv      []string
	Env       []string
}

// Run runs the CLI headless as Options say and waits for it, at most
// Options.Timeout. It fails the test only when the CLI cannot be started;
// what the CLI did is for the test to judge from Result.
func Run(t testing.TB, o Options) Result {
	t.Helper()
	if o.Bin == "" {
		o.Bin = Path(t)
	}
	if o.Model == "" {
		o.Model = DefaultModel
	}
	if o.PermissionMode == "" {
		o.PermissionMode = "bypassPermissions"
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Home == "" {
		o.Home = newHome(t, o.User)
	} else {
		ensureTmp(t, o.Home, o.User)
	}
	if o.Dir == "" {
		o.Dir = o.Home
	}
	argv := append([]string{o.Bin, "-p", o.Prompt}, agentstream.ClaudeFlags()...)
	argv = append(argv, "--model", o.Model, "--permission-mode", o.PermissionMode)
	argv = append(argv, o.Args...)
	env := Env(o)

	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = o.Dir
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if o.User != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: o.User.UID, Gid: o.User.GID}
	}
	// Kill the whole group: the CLI's tool processes too.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	stdout := &timedWriter{}
	cmd.Stdout, cmd.Stderr = stdout, &stderr

	stdout.start = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("claude: start %s: %v", o.Bin, err)
	}
	// Whatever the CLI left behind in its group goes too, while the
	// group is still its own.
	g := procgroup.Of(cmd.Process.Pid)
	g.WaitExit()
	g.Kill(syscall.SIGKILL)
	err := g.Reap(cmd.Wait)

	res := Result{
		Duration: time.Since(stdout.start), FirstLine: stdout.first,
		Stdout: stdout.buf.String(), Stderr: stderr.String(),
		TimedOut: errors.Is(ctx.Err(), context.DeadlineExceeded),
		Home:     o.Home, Argv: argv, Env: env,
	}
	res.ExitCode = cmd.ProcessState.ExitCode()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) && !res.TimedOut {
		t.Logf("claude: wait: %v", err)
	}
	res.Events, res.Init, res.Final, res.BadLines = ParseStream(stdout.buf.Bytes())
	return res
}

// Env is the whole environment of a run: nothing inherited from the test
// process, a fresh HOME and TMPDIR, the base URL and credential, QuietEnv,
// then Options.Env.
func Env(o Options) []string {
	env := []string{
		"HOME=" + o.Home,
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"SHELL=/bin/bash",
		"LANG=C.UTF-8",
		"TMPDIR=" + filepath.Join(o.Home, "tmp"),
		"CLAUDE_CODE_TMPDIR=" + filepath.Join(o.Home, "tmp"),
	}
	if o.User != nil {
		env = append(env, "USER="+o.User.Name, "LOGNAME="+o.User.Name)
	}
	if o.BaseURL != "" {
		env = append(env, "ANTHROPIC_BASE_URL="+o.BaseURL)
	}
	if o.APIKey != "" {
		env = append(env, "ANTHROPIC_API_KEY="+o.APIKey)
	}
	if o.OAuthToken != "" {
		env = append(env, "CLAUDE_CODE_OAUTH_TOKEN="+o.OAuthToken)
	}
	env = append(env, QuietEnv...)
	return append(env, o.Env...)
}

// newHome makes a HOME with a tmp/ inside, owned by u, removed after the test.
func newHome(t testing.TB, u *users.User) string {
	t.Helper()
	home, err := os.MkdirTemp("", "clem-claude-home-")
	if err != nil {
		t.Fatalf("claude: make HOME: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	chown(t, home, u)
	ensureTmp(t, home, u)
	return home
}

// ensureTmp makes home/tmp (CLAUDE_CODE_TMPDIR) if it is missing.
func ensureTmp(t testing.TB, home string, u *users.User) {
	t.Helper()
	tmp := filepath.Join(home, "tmp")
	err := os.Mkdir(tmp, 0o700)
	if errors.Is(err, os.ErrExist) {
		return
	}
	if err != nil {
		t.Fatalf("claude: make %s: %v", tmp, err)
	}
	chown(t, tmp, u)
}

func chown(t testing.TB, dir string, u *users.User) {
	t.Helper()
	if u == nil {
		return
	}
	if err := os.Chown(dir, int(u.UID), int(u.GID)); err != nil {
		t.Fatalf("claude: chown %s to %s: %v", dir, u.Name, err)
	}
}

// Texts returns the text of the assistant lines' text blocks, in order.
func (r Result) Texts() []string {
	var out []string
	for _, b := range r.assistantBlocks("text") {
		out = append(out, b.Text)
	}
	return out
}

// ToolUses returns the tool_use blocks of the assistant lines, in order.
func (r Result) ToolUses() []Block { return r.assistantBlocks("tool_use") }

func (r Result) assistantBlocks(typ string) []Block {
	var out []Block
	for _, e := range r.Events {
		if e.Type != "assistant" || e.Message == nil {
			continue
		}
		for _, b := range e.Message.Content {
			if b.Type == typ {
				out = append(out, b)
			}
		}
	}
	return out
}

// String summarizes the run for failure messages: exit, the result line
// and the end of stderr (the environment is left out: it holds the key).
func (r Result) String() string {
	var b strings.Builder
	b.WriteString("exit " + strconv.Itoa(r.ExitCode))
	if r.TimedOut {
		b.WriteString(" (timed out)")
	}
	b.WriteString(", " + strconv.Itoa(len(r.Events)) + " stream-json lines")
	if r.Final != nil {
		if raw := r.lastRaw("result"); raw != nil {
			b.WriteString("\nresult: " + string(raw))
		}
	} else {
		b.WriteString(", no result line")
	}
	if len(r.BadLines) > 0 {
		b.WriteString("\nunparsed: " + strings.Join(r.BadLines, "; "))
	}
	if s := strings.TrimSpace(r.Stderr); s != "" {
		if len(s) > 2000 {
			s = "..." + s[len(s)-2000:]
		}
		b.WriteString("\nstderr: " + s)
	}
	return b.String()
}

func (r Result) lastRaw(typ string) []byte {
	for i := len(r.Events) - 1; i >= 0; i-- {
		if r.Events[i].Type == typ {
			return r.Events[i].Raw
		}
	}
	return nil
}

// timedWriter keeps stdout and when its first bytes came.
type timedWriter struct {
	start time.Time
	first time.Duration
	buf   bytes.Buffer
}

func (w *timedWriter) Write(p []byte) (int, error) {
	if w.first == 0 && len(p) > 0 {
		w.first = time.Since(w.start)
	}
	return w.buf.Write(p)
}
