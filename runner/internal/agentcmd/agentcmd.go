// Package agentcmd builds the command line and environment of one
// iteration's agent CLI from runner.toml: claude -p with stream-json for
// Claude Code, codex exec --json, opencode run --format json, or the
// configured command. The flags that choose each output format come from
// shared/agentstream, which parses that format. The prompt always travels
// on the CLI's stdin (except for opencode, which takes it as an argument),
// so it appears neither in `ps` nor against the argument size limit. Only
// runner imports it.
package agentcmd

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/clemhq/clem/runner/internal/config"
	"github.com/clemhq/clem/shared/agentstream"
)

// Spec is everything needed to start the CLI; the pane receives it.
type Spec struct {
	Runtime string   `json:"runtime"`
	Argv    []string `json:"argv"`
	Env     []string `json:"env"`
	Dir     string   `json:"dir"`
	// Stdin is written to the CLI's stdin, which is then closed.
	Stdin string `json:"stdin"`
}

// Identity is who the CLI runs as (the runner's own user).
type Identity struct {
	User, Home string
}

// DefaultPath is the CLI's PATH when the runner's environment has none.
const DefaultPath = "/usr/local/bin:/usr/bin:/bin"

// dropEnv are variables of the runner's own environment the CLI must not
// inherit: systemd's notify and watchdog plumbing (the CLI must not ping on
// the runner's behalf), socket activation, and tmux's.
var dropEnv = []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID",
	"LISTEN_FDNAMES", "INVOCATION_ID", "JOURNAL_STREAM", "SYSTEMD_EXEC_PID", "MANAGERPID", "TMUX", "TMUX_PANE",
	"CREDENTIALS_DIRECTORY", "MAINPID"}

// Env is the CLI's environment: the runner's own (the unit's
// EnvironmentFile: proxy, CA and placeholder variables) minus systemd's and
// tmux's plumbing, then runner.toml [env], then HOME, USER, LOGNAME, PATH
// (kept if set), LANG (if unset), SHELL, CLAUDE_CODE_TMPDIR and the git
// identity.
func Env(c *config.Config, base []string, id Identity) []string {
	vars := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	for _, kv := range base {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || slices.Contains(dropEnv, k) {
			continue
		}
		set(k, v)
	}
	keys := make([]string, 0, len(c.Env))
	for k := range c.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		set(k, c.Env[k])
	}
	set("HOME", id.Home)
	set("USER", id.User)
	set("LOGNAME", id.User)
	if vars["PATH"] == "" {
		set("PATH", DefaultPath)
	}
	if vars["LANG"] == "" {
		set("LANG", "C.UTF-8")
	}
	// The Bash tool wants a POSIX shell; an agent's login shell is nologin.
	if sh := vars["SHELL"]; sh == "" || strings.HasSuffix(sh, "nologin") || strings.HasSuffix(sh, "false") {
		set("SHELL", firstExisting("/bin/bash", "/bin/sh"))
	}
	set("CLAUDE_CODE_TMPDIR", filepath.Join(c.StateDir, "tmp"))
	if c.Git.Name != "" {
		set("GIT_AUTHOR_NAME", c.Git.Name)
		set("GIT_COMMITTER_NAME", c.Git.Name)
	}
	if c.Git.Email != "" {
		set("GIT_AUTHOR_EMAIL", c.Git.Email)
		set("GIT_COMMITTER_EMAIL", c.Git.Email)
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vars[k])
	}
	return out
}

// Build returns the Spec of one iteration: argv for c's runtime, env, the
// working directory, and the prompt on stdin.
func Build(c *config.Config, prompt string, env []string) (Spec, error) {
	s := Spec{Runtime: c.Runtime, Env: env, Dir: c.WorkDir, Stdin: prompt}
	path := lookupEnv(env, "PATH")
	switch c.Runtime {
	case config.ClaudeCode:
		bin, err := findBin(c.ClaudeBin, "claude", path, config.DefaultClaudeBin)
		if err != nil {
			return Spec{}, err
		}
		s.Argv = append([]string{bin}, ClaudeArgs(c)...)
	case config.Codex:
		bin, err := findBin("", "codex", path, "/usr/local/bin/codex")
		if err != nil {
			return Spec{}, err
		}
		s.Argv = append([]string{bin, "exec"}, agentstream.CodexFlags()...)
		s.Argv = append(s.Argv, "--skip-git-repo-check", "--cd", c.WorkDir)
		if c.Model != "" {
			s.Argv = append(s.Argv, "--model", c.Model)
		}
		if c.Effort != "" {
			s.Argv = append(s.Argv, "-c", "model_reasoning_effort="+strconv.Quote(c.Effort))
		}
		if c.PermissionMode == "bypassPermissions" {
			s.Argv = append(s.Argv, "--dangerously-bypass-approvals-and-sandbox")
		} else {
			s.Argv = append(s.Argv, "--full-auto")
		}
		s.Argv = append(s.Argv, "-") // the prompt from stdin
	case config.OpenCode:
		bin, err := findBin("", "opencode", path, "/usr/local/bin/opencode")
		if err != nil {
			return Spec{}, err
		}
		s.Argv = append([]string{bin, "run"}, agentstream.OpenCodeFlags()...)
		if c.Model != "" {
			s.Argv = append(s.Argv, "--model", c.Model)
		}
		s.Argv = append(s.Argv, "--", prompt)
		s.Stdin = ""
	case config.Command:
		bin, err := findBin("", c.Command[0], path, "")
		if err != nil {
			return Spec{}, err
		}
		s.Argv = append([]string{bin}, c.Command[1:]...)
	default:
		return Spec{}, fmt.Errorf("runtime %q is not supported", c.Runtime)
	}
	return s, nil
}

// ClaudeArgs are the arguments of `claude` for one iteration (the prompt
// comes on stdin): headless, the stream-json events runner's events package
// reads (the format flags come from the parser's package), and what
// runner.toml sets.
func ClaudeArgs(c *config.Config) []string {
	a := append([]string{"-p"}, agentstream.ClaudeFlags()...)
	if c.Model != "" {
		a = append(a, "--model", c.Model)
	}
	if c.Effort != "" {
		a = append(a, "--effort", c.Effort)
	}
	a = append(a, "--permission-mode", c.PermissionMode)
	if c.MCPConfig != "" {
		a = append(a, "--mcp-config", c.MCPConfig, "--strict-mcp-config")
	}
	if c.Settings != "" {
		a = append(a, "--settings", c.Settings)
	}
	if c.SettingSources != "" {
		a = append(a, "--setting-sources", c.SettingSources)
	}
	if c.MaxTurns > 0 {
		a = append(a, "--max-turns", strconv.Itoa(c.MaxTurns))
	}
	return a
}

// findBin resolves the CLI: configured (an absolute path), else name on
// path, else fallback.
func findBin(configured, name, path, fallback string) (string, error) {
	if configured != "" {
		return configured, executable(configured)
	}
	if strings.Contains(name, "/") {
		return name, executable(name)
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		if executable(p) == nil {
			return p, nil
		}
	}
	if fallback != "" && executable(fallback) == nil {
		return fallback, nil
	}
	return "", fmt.Errorf("%s: not found on PATH (%s)%s", name, path, orFallback(fallback))
}

func orFallback(f string) string {
	if f == "" {
		return ""
	}
	return " nor at " + f
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("agent CLI %s: %w", p, err)
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("agent CLI %s: not an executable file", p)
	}
	return nil
}

func firstExisting(ps ...string) string {
	for _, p := range ps {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ps[len(ps)-1]
}

func lookupEnv(env []string, k string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], k+"="); ok {
			return v
		}
	}
	return ""
}
