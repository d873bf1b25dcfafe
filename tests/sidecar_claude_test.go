package tests

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/clemhq/clem/shared/testutil/netns"
	"github.com/clemhq/clem/shared/testutil/users"
	"github.com/clemhq/clem/tests/claudecode"
	"github.com/clemhq/clem/tests/fakemodel"
)

const sidecarClaudeYAML = `project: PROJECT
egress:
  proxy_port: 24128
  resolve: ["api.anthropic.com:443=MODEL"]
  upstream_ca: ./model-ca.pem
secrets:
  db_password:
    disposition: sidecar
    env: DB_PASSWORD
sidecars:
  db:
    command: [CHILD, clem-test-mcp-child]
    secrets: [db_password]
agents:
  lead:
    role: lead engineer
    sidecars: [db]
  dev:
    role: developer
`

// TestSidecarToolFromClaude: the real Claude Code CLI, as a provisioned
// agent pinned by its egress rules, reaches the model through pipelock and
// agent-vault (placeholder in, real key out) and calls a sidecar tool whose
// child holds a database password; the answer proves the child had it,
// while nothing the agent can read holds it.
func TestSidecarToolFromClaude(t *testing.T) {
	claudeBin := claudecode.Path(t)
	f := newFleet(t, "")
	const dbPassword = "pg-sidecar-only-secret-7731"
	f.vaultSet(t, "db_password", dbPassword)
	child := users.ExportTestBinary(t)
	netns.In(t, f.netns, func() {
		model, caPEM := fakemodel.StartTLS(t, fakemodel.Config{Keys: []string{f.secret}, Logf: t.Logf}, "api.anthropic.com")
		model.SetScript("sidecar",
			fakemodel.Call("mcp__db__query", map[string]any{}),
			fakemodel.Text("The database says 42 rows."))
		writeFile(t, filepath.Join(f.dir, "model-ca.pem"), string(caPEM))
		yaml := strings.NewReplacer("PROJECT", f.name, "MODEL", strings.TrimPrefix(model.URL, "https://"), "CHILD", child).Replace(sidecarClaudeYAML)
		writeFile(t, filepath.Join(f.dir, "clem.yaml"), yaml)
		f.provision(t)
		etc := "/etc/clem/" + f.name
		cm := &containment{f: f, etc: etc, state: "/var/lib/clem/" + f.name}
		cm.startDaemons(t, 24128)
		cm.startSidecar(t)

		lead, err := user.Lookup(f.user("lead"))
		if err != nil {
			t.Fatal(err)
		}
		uid, gid := userIDs(t, lead.Username)
		env := agentEnv(t, etc+"/agents/lead/env")
		res := claudecode.Run(t, claudecode.Options{
			Bin:    claudeBin,
			Prompt: "Ask the database how many rows there are.",
			User:   &users.User{Name: lead.Username, UID: uid, GID: gid},
			Home:   lead.HomeDir,
			Args: []string{"--mcp-config", etc + "/agents/lead/mcp.json", "--strict-mcp-config",
				"--append-system-prompt", fakemodel.Marker("sidecar")},
			Env: env,
		})
		if res.ExitCode != 0 || res.Final == nil || res.Final.IsError {
			t.Fatalf("claude as the agent: %s", res)
		}
		var results []fakemodel.ToolResult
		for _, r := range model.ToolResults("sidecar") {
			if r.Name == "mcp__db__query" {
				results = append(results, r)
			}
		}
		want := fmt.Sprintf("key fingerprint %s; served by uid", fingerprint(dbPassword))
		if len(results) != 1 || results[0].IsError || !strings.Contains(results[0].Content, want) {
			t.Fatalf("the sidecar tool's answer = %+v, want it to contain %q", results, want)
		}
		mcp, _ := user.Lookup(f.user("mcp-db"))
		if !strings.HasSuffix(results[0].Content, "served by uid "+mcp.Uid) {
			t.Errorf("the tool ran as %q, want the sidecar user %s (uid %s)", results[0].Content, mcp.Username, mcp.Uid)
		}
		for _, r := range model.MessageRequests("sidecar") {
			if key, _ := r.Credential(); key != f.secret {
				t.Errorf("the model got a credential of %d bytes, want the real key brokered by agent-vault", len(key))
			}
		}
		// The agent's environment and everything it can read hold no trace.
		for _, kv := range env {
			if strings.Contains(kv, dbPassword) || strings.Contains(kv, f.secret) {
				t.Errorf("the agent's environment holds a secret: %s=...", strings.SplitN(kv, "=", 2)[0])
			}
		}
		if h := filesContaining(t, []byte(dbPassword), lead.HomeDir, etc+"/agents/lead", "/var/lib/clem/"+f.name+"/agents/lead"); len(h) > 0 {
			t.Errorf("files the agent can read hold the sidecar's secret: %v", h)
		}
	})
}

// agentEnv reads an agent's EnvironmentFile (KEY="value" lines) as the
// unit would hand it to the agent.
func agentEnv(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	re := regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"$`)
	for _, l := range strings.Split(string(b), "\n") {
		if m := re.FindStringSubmatch(l); m != nil {
			env = append(env, m[1]+"="+strings.NewReplacer(`\"`, `"`, `\\`, `\`, `\$`, `$`).Replace(m[2]))
		}
	}
	return env
}

// startSidecar runs the sidecar daemon as its user with its credentials in
// a directory only it can read, as its unit would.
func (cm *containment) startSidecar(t *testing.T) {
	t.Helper()
	sc := cm.cred(t, cm.f.user("mcp-db"))
	creds := cm.credCopy(t, cm.etc+"/credentials/mcp-db", sc)
	d := startCmdAs(t, sc, []string{"CREDENTIALS_DIRECTORY=" + creds}, "sidecar", "run", "-c", cm.etc+"/sidecar-db.toml")
	sock := "/run/clem/" + cm.f.name + "/mcp-db/admin.sock"
	waitFor(t, func() bool { _, err := os.Stat(sock); return err == nil }, d)
	cm.started("sidecar", d)
}
