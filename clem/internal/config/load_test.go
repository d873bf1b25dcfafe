package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/testutil/golden"
)

var testEnv = map[string]string{
	"DISCORD_SERVER_ID":      "123456789012345678",
	"DISCORD_TASKS_CHANNEL":  "223456789012345678",
	"DISCORD_ALERTS_CHANNEL": "323456789012345678",
}

func lookup(k string) (string, bool) { v, ok := testEnv[k]; return v, ok }

func parseFile(t testing.TB, path string) (*Config, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return Parse(path, data, lookup)
}

// TestExampleLoads is the product page's example, unchanged.
func TestExampleLoads(t *testing.T) {
	c, err := parseFile(t, "testdata/ok/example.yaml")
	if err != nil {
		t.Fatalf("example does not load:\n%v", err)
	}
	if c.Project != "myteam" || c.Coordination.Backend != BackendDiscord || c.Coordination.ServerID != "123456789012345678" {
		t.Errorf("project/coordination = %q/%+v", c.Project, c.Coordination)
	}
	if len(c.Agents) != 2 {
		t.Fatalf("got %d agents, want 2", len(c.Agents))
	}
	lead, worker := c.Agents[0], c.Agents[1]
	checks := []struct{ name, got, want string }{
		{"lead.User", lead.User, "myteam-lead"},
		{"lead.Name", lead.Name, "Atlas"},
		{"lead.Effort", lead.Effort, "high"},
		{"lead.Iteration", lead.Iteration.String(), "10m"},
		{"lead.IterationNight", lead.IterationNight.String(), "10m"},
		{"worker.User", worker.User, "myteam-worker"},
		{"worker.Iteration", worker.Iteration.String(), "5m"},
		{"worker.Model", worker.Model, "claude-sonnet-4-6"},
		{"egress", strings.Join(worker.EgressEff.Domains, ","), "*.anthropic.com,github.com"},
		{"model credential", c.Secret("anthropic_api_key").Disposition, DispBrokered},
		{"coordination token", c.Secret("discord_token").Disposition, DispCoord},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %q, want %q", ck.name, ck.got, ck.want)
		}
	}
	if len(c.Warnings) != 0 {
		t.Errorf("unexpected warnings:\n%v", c.Warnings)
	}
}

// TestErrors loads each fixture in testdata/errors and compares every
// message, all at once, with its golden file.
func TestErrors(t *testing.T) {
	files := golden.Fixtures(t, "testdata/errors/*.yaml")
	if len(files) < 10 {
		t.Fatalf("found %d error fixtures, want at least 10", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			_, err := parseFile(t, f)
			if err == nil {
				t.Fatalf("Parse(%s) succeeded, want errors", f)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse(%s) error is %T, want Errors", f, err)
			}
			for _, e := range errs {
				if e.File != f {
					t.Errorf("error %q names file %q, want %q", e, e.File, f)
				}
			}
			golden.Check(t, strings.TrimSuffix(f, ".yaml")+".golden", []byte(err.Error()+"\n"))
		})
	}
}

func TestExpand(t *testing.T) {
	env := map[string]string{"A": "1", "EMPTY": ""}
	lk := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct{ in, want, errHas string }{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "1"},
		{in: "x${A}y${A}", want: "x1y1"},
		{in: "${B:-dflt}", want: "dflt"},
		{in: "${EMPTY:-dflt}", want: "dflt"},
		{in: "${EMPTY}", want: ""},
		{in: "${B:-${A}}", want: "1"},
		{in: "$$5 and $5", want: "$5 and $5"},
		{in: "${B}", errHas: "${B} is not set"},
		{in: "${A", errHas: "without its closing"},
		{in: "${1X}", errHas: "not a valid variable"},
		{in: "${}", errHas: "not a valid variable"},
	}
	for _, tt := range tests {
		got, err := expand(tt.in, lk)
		if tt.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("expand(%q) = %q, %v; want error containing %q", tt.in, got, err, tt.errHas)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestVariablesCannotInjectStructure: a variable's value stays a scalar.
func TestVariablesCannotInjectStructure(t *testing.T) {
	env := map[string]string{"P": "x\nagents:\n  evil: {}"}
	_, err := Parse("clem.yaml", []byte("project: ${P}\nagents:\n  lead: {}\n"), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err == nil || !strings.Contains(err.Error(), "not a valid user-name prefix") {
		t.Fatalf("Parse = %v, want the expanded value rejected as a project name", err)
	}
}

func TestPromptFileAndInline(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "prompts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "prompts", "lead.md"), []byte("You lead.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := "project: p\nagents:\n  lead:\n    prompt: prompts/lead.md\n  worker:\n    prompt: |\n      You work.\n      Carefully.\n  third:\n    prompt: Just do it\n"
	c, err := Parse(filepath.Join(dir, "clem.yaml"), []byte(src), lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"lead": "You lead.\n", "worker": "You work.\nCarefully.\n", "third": "Just do it"}
	for k, w := range want {
		if got := c.Agent(k).PromptText; got != w {
			t.Errorf("agent %s prompt = %q, want %q", k, got, w)
		}
	}
	if c.Agent("lead").PromptFile != filepath.Join(dir, "prompts", "lead.md") {
		t.Errorf("lead PromptFile = %q", c.Agent("lead").PromptFile)
	}
}

func TestAgentEgressOverride(t *testing.T) {
	src := `project: p
egress:
  domains: [github.com]
agents:
  lead:
    egress:
      domains: ["*.anthropic.com", api.github.com]
      ports: [443, 8443]
  worker: {}
`
	c, err := Parse("clem.yaml", []byte(src), lookup)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Agent("lead").EgressEff.Domains, ","); got != "*.anthropic.com,api.github.com" {
		t.Errorf("lead domains = %s", got)
	}
	if got := c.Agent("lead").EgressEff.Ports; len(got) != 2 {
		t.Errorf("lead ports = %v", got)
	}
	if got := strings.Join(c.Agent("worker").EgressEff.Domains, ","); got != "github.com" {
		t.Errorf("worker domains = %s", got)
	}
	// Brokered hosts need no egress.domains entry: provision allows them.
	if len(c.Warnings) != 0 {
		t.Errorf("warnings = %v, want none", c.Warnings)
	}
}

func TestTestKnobsWarn(t *testing.T) {
	src := `project: p
egress:
  resolve: ["api.anthropic.com:443=127.0.0.1:9443"]
  upstream_ca: /etc/ssl/test-ca.pem
agents:
  lead: {}
`
	c, err := Parse("clem.yaml", []byte(src), lookup)
	if err != nil {
		t.Fatal(err)
	}
	w := c.Warnings.Error()
	if !strings.Contains(w, "egress.resolve") || !strings.Contains(w, "egress.upstream_ca") {
		t.Errorf("warnings = %v, want both test knobs named", c.Warnings)
	}
	if got := c.Egress.ResolveMap["api.anthropic.com:443"].String(); got != "127.0.0.1:9443" {
		t.Errorf("ResolveMap = %v", c.Egress.ResolveMap)
	}
}

func TestSecretUses(t *testing.T) {
	src := `project: p
coordination:
  backend: github
  repo: acme/app
secrets:
  gh_push:
    disposition: brokered
    hosts: [github.com, api.github.com]
    auth: basic
  pg:
    disposition: sidecar
  unused:
    disposition: reveal
sidecars:
  postgres:
    command: [pg-mcp, --ro]
    secrets: [pg]
agents:
  lead:
    secrets: [gh_push]
    sidecars: [postgres]
    egress:
      domains: [github.com, api.github.com, api.anthropic.com]
`
	c, err := Parse("clem.yaml", []byte(src), lookup)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"gh_push":           "agent lead",
		"pg":                "sidecar postgres",
		"github_token":      "coord",
		"anthropic_api_key": "agent lead",
		"unused":            "",
	} {
		if got := strings.Join(c.SecretConsumers(name), ","); got != want {
			t.Errorf("SecretConsumers(%q) = %q, want %q", name, got, want)
		}
	}
	if len(c.UsedSecrets()) != 4 {
		t.Errorf("UsedSecrets() = %d secrets, want 4", len(c.UsedSecrets()))
	}
	if !strings.Contains(c.Warnings.Error(), `secret "unused" is declared but nothing uses it`) {
		t.Errorf("warnings = %v", c.Warnings)
	}
	if c.Coordination.Labels.Task != "clem" {
		t.Errorf("default task label = %q", c.Coordination.Labels.Task)
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("clem.yaml", data, lookup)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %T %q is not a non-empty Errors", err, err)
			}
			for _, e := range errs {
				if e.File != "clem.yaml" || e.Msg == "" {
					t.Fatalf("unlocated or empty error: %#v", e)
				}
			}
			return
		}
		if !NameRE.MatchString(c.Project) || len(c.Agents) == 0 {
			t.Fatalf("accepted config with project %q and %d agents", c.Project, len(c.Agents))
		}
		for _, a := range c.Agents {
			if len(a.User) > MaxUserName || !NameRE.MatchString(a.Key) {
				t.Fatalf("accepted agent %q (user %q)", a.Key, a.User)
			}
		}
	})
}

// TestResourceLimitsInherit: each key comes from the agent, else the
// project's resource_limits, else the default.
func TestResourceLimitsInherit(t *testing.T) {
	src := `project: p
resource_limits:
  memory: 2G
  tasks: 512
  egress_rate: 10
agents:
  lead:
    resource_limits: {memory: 8G, open_files: 4096, cpu: "1.5"}
  worker: {}
`
	c, err := Parse("clem.yaml", []byte(src), lookup)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		agent string
		want  ResourceLimits
	}{
		{"lead", ResourceLimits{Memory: "8G", CPU: "1.5", Tasks: 512, OpenFiles: 4096, EgressRate: 10, EgressBurst: DefaultEgressBurst}},
		{"worker", ResourceLimits{Memory: "2G", Tasks: 512, OpenFiles: DefaultOpenFiles, EgressRate: 10, EgressBurst: DefaultEgressBurst}},
	}
	for _, tt := range tests {
		if got := c.Agent(tt.agent).ResourceLimits; got != tt.want {
			t.Errorf("agent %s limits = %+v, want %+v", tt.agent, got, tt.want)
		}
	}
	c, err = Parse("clem.yaml", []byte("project: p\nagents:\n  lead: {}\n"), lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := ResourceLimits{Memory: DefaultMemory, Tasks: DefaultTasks, OpenFiles: DefaultOpenFiles, EgressRate: DefaultEgressRate, EgressBurst: DefaultEgressBurst}
	if got := c.Agent("lead").ResourceLimits; got != want {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
}

// TestScheduleDefaults: backoff_max defaults to 2h, or to the longer
// interval when an agent iterates less often than that.
func TestScheduleDefaults(t *testing.T) {
	src := `project: p
agents:
  lead: {}
  slow: {iteration: 3h, iteration_night: 5h}
  quick: {iteration: 30s, backoff_max: 1m}
`
	c, err := Parse("clem.yaml", []byte(src), lookup)
	if err != nil {
		t.Fatal(err)
	}
	for agent, want := range map[string]time.Duration{"lead": 2 * time.Hour, "slow": 5 * time.Hour, "quick": time.Minute} {
		if got := c.Agent(agent).BackoffMax.Duration; got != want {
			t.Errorf("agent %s backoff_max = %v, want %v", agent, got, want)
		}
	}
}
