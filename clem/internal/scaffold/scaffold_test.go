package scaffold

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clemhq/clem/clem/internal/config"
)

var backendEnv = map[string]string{
	"DISCORD_SERVER_ID":      "123456789012345678",
	"DISCORD_TASKS_CHANNEL":  "223456789012345678",
	"DISCORD_ALERTS_CHANNEL": "323456789012345678",
	"SLACK_TASKS_CHANNEL":    "C0123ABCDEF",
	"SLACK_ALERTS_CHANNEL":   "C0123ABCDEG",
	"GITHUB_REPO":            "acme/app",
}

// TestInitPassesCheck: what init writes loads cleanly for every backend,
// with no warnings, once the variables it names are exported.
func TestInitPassesCheck(t *testing.T) {
	for _, b := range Backends {
		t.Run(b, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "Acme Team")
			res, err := Write(Options{Dir: dir, Backend: b})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Files) != 3 {
				t.Errorf("wrote %v, want clem.yaml and two prompts", res.Files)
			}
			for _, v := range res.Env {
				if _, ok := backendEnv[v]; !ok {
					t.Errorf("init reads ${%s}, which this test does not know", v)
				}
			}
			if b == config.BackendLocal && len(res.Env) != 0 {
				t.Errorf("local backend needs variables %v", res.Env)
			}
			path := filepath.Join(dir, "clem.yaml")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Parse(path, data, func(k string) (string, bool) { v, ok := backendEnv[k]; return v, ok })
			if err != nil {
				t.Fatalf("init's clem.yaml does not pass check:\n%v\n%s", err, data)
			}
			if cfg.Project != "acme-team" || cfg.Coordination.Backend != b || len(cfg.Agents) != 2 {
				t.Errorf("project %q backend %q agents %d", cfg.Project, cfg.Coordination.Backend, len(cfg.Agents))
			}
			if cfg.Agents[0].PromptFile == "" || !strings.Contains(cfg.Agents[0].PromptText, "Atlas") {
				t.Errorf("lead prompt not read from prompts/lead.md: %q", cfg.Agents[0].PromptFile)
			}
			if len(cfg.Warnings) != 0 {
				t.Errorf("warnings: %v", cfg.Warnings)
			}
		})
	}
}

func TestInitRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "prompts"), 0o755); err != nil {
		t.Fatal(err)
	}
	mine := filepath.Join(dir, "prompts", "worker.md")
	if err := os.WriteFile(mine, []byte("my own prompt"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Write(Options{Dir: dir, Backend: "local"})
	if err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("Write = %v, want a refusal", err)
	}
	if b, _ := os.ReadFile(mine); string(b) != "my own prompt" {
		t.Errorf("existing prompt changed to %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "clem.yaml")); err == nil {
		t.Error("clem.yaml was written although init refused")
	}
}

func TestInitRejectsBadInput(t *testing.T) {
	if _, err := Write(Options{Dir: t.TempDir(), Backend: "irc"}); err == nil || !strings.Contains(err.Error(), "local, discord, slack, github") {
		t.Errorf("backend irc: %v", err)
	}
	if _, err := Write(Options{Dir: t.TempDir(), Backend: "local", Project: "Bad_Name"}); err == nil {
		t.Error("project Bad_Name accepted")
	}
}

func TestProjectFromDir(t *testing.T) {
	for in, want := range map[string]string{"/x/My Team": "my-team", "/x/123": "myteam", "/x/a_b.c": "a-b-c", "/x/" + strings.Repeat("long", 10): "longlonglonglonglong"} {
		if got := ProjectFromDir(in); got != want {
			t.Errorf("ProjectFromDir(%q) = %q, want %q", in, got, want)
		}
	}
}
