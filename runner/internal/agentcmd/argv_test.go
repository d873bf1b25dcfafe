package agentcmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clemhq/clem/runner/internal/config"
)

// TestBuildArgv pins each runtime's whole argv: the flags that choose the
// output format are what the stream parser reads, and the rest is what
// runner.toml sets.
func TestBuildArgv(t *testing.T) {
	dir := t.TempDir()
	for _, b := range []string{"claude", "codex", "opencode"} {
		if err := os.WriteFile(filepath.Join(dir, b), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"PATH=" + dir}
	for _, tt := range []struct {
		name    string
		runtime string
		edit    func(*config.Config)
		want    string
	}{
		{"claude", config.ClaudeCode, func(*config.Config) {},
			"claude -p --output-format stream-json --verbose --model sonnet --effort medium --permission-mode bypassPermissions " +
				"--mcp-config /etc/clem/p/agents/lead/mcp.json --strict-mcp-config --settings /etc/clem/p/agents/lead/settings.json"},
		{"codex bypass", config.Codex, func(*config.Config) {},
			`codex exec --json --skip-git-repo-check --cd /home/p-lead --model sonnet -c model_reasoning_effort="medium" --dangerously-bypass-approvals-and-sandbox -`},
		{"codex sandboxed, no model", config.Codex, func(c *config.Config) { c.PermissionMode, c.Model, c.Effort = "default", "", "" },
			`codex exec --json --skip-git-repo-check --cd /home/p-lead --full-auto -`},
		{"opencode", config.OpenCode, func(*config.Config) {},
			`opencode run --format json --model sonnet -- PROMPT`},
		{"opencode, no model", config.OpenCode, func(c *config.Config) { c.Model = "" },
			`opencode run --format json -- PROMPT`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg(t, "")
			c.Runtime = tt.runtime
			tt.edit(c)
			s, err := Build(c, "PROMPT", env)
			if err != nil {
				t.Fatal(err)
			}
			if s.Argv[0] != filepath.Join(dir, strings.Fields(tt.want)[0]) {
				t.Errorf("Build(%s) argv[0] = %q, want it from PATH", tt.name, s.Argv[0])
			}
			if got := strings.Join(append([]string{filepath.Base(s.Argv[0])}, s.Argv[1:]...), " "); got != tt.want {
				t.Errorf("Build(%s) argv =\n%s\nwant\n%s", tt.name, got, tt.want)
			}
		})
	}
}
