package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSidecarCheck: the built sidecar validates a config, secrets included,
// says where a mistake is, and documents the schema in --help.
func TestSidecarCheck(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "creds"), 0o700)
	os.WriteFile(filepath.Join(dir, "creds", "pg_password"), []byte("pw\n"), 0o600)
	good := `[secrets]
dir = "creds"

[[client]]
name = "lead"
uids = [1001]

[[server]]
name = "postgres"
listen = "127.0.0.1:3131"
command = ["postgres-mcp"]
agents = ["lead"]

[[server.secret]]
name = "pg_password"
env = "PGPASSWORD"
`
	os.WriteFile(filepath.Join(dir, "good.toml"), []byte(good), 0o644)
	bad := strings.Replace(good, "agents = [\"lead\"]", "agent = [\"lead\"]", 1)
	os.WriteFile(filepath.Join(dir, "bad.toml"), []byte(bad), 0o644)
	missing := strings.Replace(good, `name = "pg_password"`, `name = "nope"`, 1)
	os.WriteFile(filepath.Join(dir, "missing.toml"), []byte(missing), 0o644)

	if r := runBin(t, dir, nil, "", "sidecar", "check", "-c", "good.toml"); r.code != 0 || !strings.Contains(r.stdout, "ok: good.toml: 1 servers, 1 clients") || !strings.Contains(r.stdout, "postgres on 127.0.0.1:3131: command postgres-mcp, shared, agents [lead], 1 secrets") {
		t.Errorf("check good: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runBin(t, dir, nil, "", "sidecar", "check", "-c", "bad.toml"); r.code == 0 || !strings.Contains(r.stderr, `bad.toml:12: unknown key "server.agent"`) {
		t.Errorf("check bad: exit %d\n%s", r.code, r.stderr)
	}
	if r := runBin(t, dir, nil, "", "sidecar", "check", "-c", "missing.toml"); r.code == 0 || !strings.Contains(r.stderr, `secret "nope" not found in creds`) {
		t.Errorf("check missing secret: exit %d\n%s", r.code, r.stderr)
	}
	if r := runBin(t, dir, nil, "", "sidecar", "run", "-c", "bad.toml"); r.code == 0 || !strings.Contains(r.stderr, "unknown key") {
		t.Errorf("run with a bad config: exit %d\n%s", r.code, r.stderr)
	}
	r := runBin(t, dir, nil, "", "sidecar", "--help")
	for _, want := range []string{"[[server.secret]]", "per-agent", "$CREDENTIALS_DIRECTORY", "header = \"Authorization\"", "SIGHUP"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--help does not document %q:\n%s", want, r.stdout)
		}
	}
}
