package agentlogin

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/clemhq/clem/clem/internal/termrelay"
)

// CredentialFile is where claude keeps its OAuth credential, under HOME.
const CredentialFile = ".claude/.credentials.json"

// Options says whose login this is.
type Options struct {
	User     string   // the agent's OS user
	Home     string   // the agent's home: the credential goes to Home/CredentialFile
	Terminal *os.File // the operator's terminal
	Program  []string // what to run; default: claude
	TERM     string
	// TempRoot is where the clean home is made; default os.TempDir().
	TempRoot string
}

// Run runs the login and stores the credential it produced.
func Run(ctx context.Context, o Options) error {
	u, err := user.Lookup(o.User)
	if err != nil {
		return fmt.Errorf("login as %s: %w", o.User, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// With nothing of the agent running, nothing can write into the clean
	// home while claude starts in it, nor watch it from /proc.
	pids, err := ProcessesOf(uid)
	if err != nil {
		return fmt.Errorf("login as %s: %w", o.User, err)
	}
	if len(pids) > 0 {
		return &RunningError{User: o.User, PIDs: pids}
	}
	home, err := os.MkdirTemp(o.TempRoot, "clem-login-")
	if err != nil {
		return fmt.Errorf("login as %s: clean home: %w", o.User, err)
	}
	defer os.RemoveAll(home) // symlink-safe: it removes, never follows
	if err := os.Chown(home, uid, gid); err != nil {
		return fmt.Errorf("login as %s: clean home: %w", o.User, err)
	}
	prog := o.Program
	if len(prog) == 0 {
		prog = []string{"claude"}
	}
	term := o.TERM
	if term == "" {
		term = "xterm-256color"
	}
	err = termrelay.Run(ctx, termrelay.Options{
		Argv: termrelay.AsUser(o.User, prog...),
		Env: []string{"HOME=" + home, "USER=" + o.User, "LOGNAME=" + o.User, "TERM=" + term,
			"PATH=/usr/local/bin:/usr/bin:/bin", "CLAUDE_CODE_TMPDIR=" + home},
		Dir:      home,
		Terminal: o.Terminal,
		Scope:    fmt.Sprintf("clem-login-%s-%d", o.User, os.Getpid()),
	})
	if err != nil {
		return fmt.Errorf("login as %s: %w", o.User, err)
	}
	return copyOut(o.User, filepath.Join(home, CredentialFile), filepath.Join(o.Home, CredentialFile))
}

// copyOut copies the credential as the agent: both ends are the agent's
// own files, so a symlink it planted can only lead where it may write
// anyway, and root never opens a path the agent controls.
func copyOut(agent, src, dst string) error {
	if asAgent(agent, "test", "-f", src) != nil {
		return fmt.Errorf("login as %s: claude left no credential (%s): did /login finish?", agent, CredentialFile)
	}
	if err := asAgent(agent, "mkdir", "-p", "-m", "0700", filepath.Dir(dst)); err != nil {
		return fmt.Errorf("login as %s: %w", agent, err)
	}
	if err := asAgent(agent, "install", "-m", "0600", src, dst); err != nil {
		return fmt.Errorf("login as %s: store the credential: %w", agent, err)
	}
	return nil
}

func asAgent(agent string, argv ...string) error {
	full := termrelay.AsUser(agent, argv...)
	cmd := exec.Command(full[0], full[1:]...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.Dir = "/"
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
	return nil
}

// RunningError says the agent still has processes.
type RunningError struct {
	User string
	PIDs []int
}

func (e *RunningError) Error() string {
	return fmt.Sprintf("%s has processes running (pids %v): stop the agent first (sudo clem down AGENT), then log in", e.User, e.PIDs)
}
