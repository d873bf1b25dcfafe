package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogin: `clem login --with api-key` stores the key from stdin in the
// vault and installs it for agent-vault only; the agents' placeholders do
// not change. The other modes refuse what would go wrong.
func TestLogin(t *testing.T) {
	f := newFleet(t, twoAgents)
	f.provision(t)
	etc := "/etc/clem/" + f.name
	envBefore, _ := os.ReadFile(etc + "/agents/lead/env")

	const newKey = "sk-ant-rotated-key-9b3c"
	args := []string{"--net=" + f.netns, filepath.Join(binDir, "clem"), "login", "--with", "api-key",
		"--templates", filepath.Join(repoRoot, "systemd"), "--bin-dir", binDir}
	cmd := exec.Command("nsenter", args...)
	cmd.Stdin = strings.NewReader(newKey + "\n")
	r := runCmd(t, cmd, f.dir, f.env)
	if r.code != 0 {
		t.Fatalf("clem login --with api-key: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, newKey) {
		t.Errorf("clem login printed the key")
	}
	if b, _ := os.ReadFile(etc + "/credentials/vault/anthropic_api_key"); string(b) != newKey {
		t.Errorf("agent-vault's credential holds %d bytes, want the new key", len(b))
	}
	if envAfter, _ := os.ReadFile(etc + "/agents/lead/env"); string(envAfter) != string(envBefore) {
		t.Errorf("the agent's env file changed:\n%s\nwas\n%s", envAfter, envBefore)
	}
	if got := runBin(t, f.dir, f.env, "", "clem", "vault", "get", "anthropic_api_key"); strings.TrimSpace(got.stdout) != newKey {
		t.Errorf("the vault does not hold the new key (exit %d)", got.code)
	}

	r = f.clem(t, "login", "--with", "oauth-token")
	if r.code == 0 || !strings.Contains(r.stderr, "env: CLAUDE_CODE_OAUTH_TOKEN") {
		t.Errorf("--with oauth-token on an API-key credential: exit %d, want the clem.yaml lines to add:\n%s", r.code, r.stderr)
	}
	r = f.clem(t, "login", "--with", "interactive", "lead")
	if r.code == 0 || !strings.Contains(r.stderr, "--i-understand") {
		t.Errorf("--with interactive without --i-understand: exit %d\n%s", r.code, r.stderr)
	}
}
