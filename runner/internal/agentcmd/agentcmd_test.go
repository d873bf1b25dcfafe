package agentcmd

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clemhq/clem/runner/internal/config"
)

func cfg(t *testing.T, extra string) *config.Config {
	t.Helper()
	c, err := config.Parse("runner.toml", []byte(`project = "p"
agent = "lead"
runtime = "claude-code"
model = "sonnet"
effort = "medium"
iteration = "10m"
permission_mode = "bypassPermissions"
prompt_file = "/etc/clem/p/agents/lead/prompt.md"
mcp_config = "/etc/clem/p/agents/lead/mcp.json"
settings = "/etc/clem/p/agents/lead/settings.json"
state_dir = "/var/lib/clem/p/agents/lead"
work_dir = "/home/p-lead"
tmux_session = "clem-lead"
`+extra+`
[git]
name = "Lead"
email = "p-lead@users.noreply.clem.invalid"
[env]
DISABLE_TELEMETRY = "1"
HTTPS_PROXY = "http://127.0.0.1:9999"
`))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClaudeArgs(t *testing.T) {
	got := strings.Join(ClaudeArgs(cfg(t, "max_turns = 30\nsetting_sources = \"user\"")), " ")
	want := "-p --output-format stream-json --verbose --model sonnet --effort medium --permission-mode bypassPermissions " +
		"--mcp-config /etc/clem/p/agents/lead/mcp.json --strict-mcp-config --settings /etc/clem/p/agents/lead/settings.json " +
		"--setting-sources user --max-turns 30"
	if got != want {
		t.Errorf("ClaudeArgs =\n%s\nwant\n%s", got, want)
	}
}

func TestEnv(t *testing.T) {
	base := []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HTTPS_PROXY=http://127.0.0.1:3128", "ANTHROPIC_API_KEY=__clem_placeholder__",
		"NOTIFY_SOCKET=/run/systemd/notify", "WATCHDOG_USEC=120000000", "WATCHDOG_PID=1", "INVOCATION_ID=x", "HOME=/",
		"SHELL=/usr/sbin/nologin", "TMUX=/tmp/x,1,0", "GIT_AUTHOR_NAME=Mallory"}
	env := Env(cfg(t, ""), base, Identity{User: "p-lead", Home: "/home/p-lead"})
	get := func(k string) (string, bool) {
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, k+"="); ok {
				return v, true
			}
		}
		return "", false
	}
	for k, want := range map[string]string{
		"ANTHROPIC_API_KEY":   "__clem_placeholder__",  // the unit's placeholder passes
		"HTTPS_PROXY":         "http://127.0.0.1:9999", // [env] wins over the unit
		"DISABLE_TELEMETRY":   "1",
		"HOME":                "/home/p-lead",
		"USER":                "p-lead",
		"LOGNAME":             "p-lead",
		"PATH":                "/usr/local/bin:/usr/bin:/bin",
		"LANG":                "C.UTF-8",
		"CLAUDE_CODE_TMPDIR":  "/var/lib/clem/p/agents/lead/tmp",
		"GIT_AUTHOR_NAME":     "Lead",
		"GIT_COMMITTER_NAME":  "Lead",
		"GIT_AUTHOR_EMAIL":    "p-lead@users.noreply.clem.invalid",
		"GIT_COMMITTER_EMAIL": "p-lead@users.noreply.clem.invalid",
	} {
		if v, _ := get(k); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
	for _, k := range []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "INVOCATION_ID", "TMUX"} {
		if v, ok := get(k); ok {
			t.Errorf("%s=%q reached the CLI", k, v)
		}
	}
	if sh, _ := get("SHELL"); sh != "/bin/bash" && sh != "/bin/sh" {
		t.Errorf("SHELL = %q, want a real shell instead of nologin", sh)
	}
	seen := map[string]bool{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if seen[k] {
			t.Errorf("%s twice in the environment", k)
		}
		seen[k] = true
	}
}

func TestBuild(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "claude")
	os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755)
	c := cfg(t, "")
	env := []string{"PATH=" + dir}
	s, err := Build(c, "PROMPT", env)
	if err != nil {
		t.Fatal(err)
	}
	if s.Argv[0] != bin || s.Stdin != "PROMPT" || s.Dir != "/home/p-lead" || slices.Contains(s.Argv, "PROMPT") {
		t.Errorf("Build = %+v, want claude from PATH with the prompt on stdin only", s)
	}
	c.ClaudeBin = filepath.Join(dir, "missing")
	if _, err := Build(c, "P", env); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Build with a missing claude_bin = %v", err)
	}
	c.ClaudeBin = ""
	if _, err := Build(c, "P", []string{"PATH=/nonexistent"}); err == nil || !strings.Contains(err.Error(), "claude: not found on PATH") {
		t.Errorf("Build without claude = %v", err)
	}

	cmd := cfg(t, "")
	cmd.Runtime, cmd.Command = config.Command, []string{"/bin/cat", "-u"}
	if s, err := Build(cmd, "P", env); err != nil || !slices.Equal(s.Argv, []string{"/bin/cat", "-u"}) || s.Stdin != "P" {
		t.Errorf("command runtime: %+v %v", s, err)
	}
	oc := cfg(t, "")
	oc.Runtime = config.OpenCode
	os.WriteFile(filepath.Join(dir, "opencode"), []byte("#!/bin/sh\n"), 0o755)
	if s, err := Build(oc, "P", env); err != nil || s.Argv[len(s.Argv)-1] != "P" || s.Stdin != "" {
		t.Errorf("opencode: %+v %v", s, err)
	}
	cx := cfg(t, "")
	cx.Runtime = config.Codex
	os.WriteFile(filepath.Join(dir, "codex"), []byte("#!/bin/sh\n"), 0o755)
	if s, err := Build(cx, "P", env); err != nil || !slices.Contains(s.Argv, "--json") || s.Argv[len(s.Argv)-1] != "-" || s.Stdin != "P" {
		t.Errorf("codex: %+v %v", s, err)
	}
}
