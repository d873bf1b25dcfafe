package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/clemhq/clem/shared/testutil/netns"
	"github.com/clemhq/clem/tests/fakegithub"
)

// ghPlaceholder is the agent's stand-in for its GitHub token.
const ghPlaceholder = "__clem_agent1_github_agent1_0123456789abcdef__"

// nobody plays the agent: a real non-root uid no test creates or removes.
const nobodyUID = 65534

// TestGitHubThroughPipelockAndVault runs the GitHub scenarios with the real
// git and gh as a non-root user whose only way out is pipelock, holding a
// placeholder, with agent-vault enforcing its GitHub policy and signing its
// commits, against the fake GitHub; no systemd, no model (the fleet runs
// the same scenarios through Claude Code).
func TestGitHubThroughPipelockAndVault(t *testing.T) {
	dir, err := os.MkdirTemp("", "clem-github-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	secrets := filepath.Join(dir, "secrets")
	os.Mkdir(secrets, 0o700)
	writeFile(t, filepath.Join(secrets, "github_agent1"), ghRealToken+"\n")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", filepath.Join(secrets, "sign_agent1")).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(filepath.Join(secrets, "sign_agent1.pub"))
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	os.MkdirAll(filepath.Join(home, "tmp"), 0o700)
	for _, p := range []string{home, filepath.Join(home, "tmp")} {
		os.Chown(p, nobodyUID, nobodyUID)
	}

	netns.Run(t, func() {
		gh := fakegithub.Start(t, fakegithub.Options{Token: ghRealToken, Login: ghLogin, Repos: []string{ghRepo, ghLib, ghOther}, Workflow: true})
		writeFile(t, filepath.Join(dir, "github-ca.pem"), string(gh.CertPEM()))
		signSock := filepath.Join(dir, "sign", "agent.sock")
		bp := startBrokerPair(t, dir, filepath.Join(dir, "github-ca.pem"), fmt.Sprintf(`[[resolve]]
host = "github.com"
port = 443
address = %q
[[resolve]]
host = "api.github.com"
port = 443
address = %q
[[binding]]
name = "github_agent1"
secret = "github_agent1"
hosts = ["github.com", "api.github.com"]
[[binding.placeholder]]
agent = "agent1"
value = %q
[[github]]
agent = "agent1"
level = "pr"
read = [%q, %q]
push = [%q]
branches = ["agent1/*"]
protected = ["main", "master"]
[signer]
socket = %q
[[signer.key]]
agent = "agent1"
uid = %d
secret = "sign_agent1"
`, gh.Addr(), gh.Addr(), ghPlaceholder, ghRepo, ghLib, ghRepo, signSock, nobodyUID), fmt.Sprintf(`[[client]]
name = "agent1"
uids = [%d]
domains = ["github.com", "api.github.com"]
brokered = ["github.com", "api.github.com"]
`, nobodyUID), signSock)
		w := &ghWorld{gh: gh, agent: "agent1", vaultAudit: bp.vaultAudit, signingKey: strings.TrimSpace(string(pub))}
		gitconfig := filepath.Join(dir, "gitconfig")
		writeFile(t, gitconfig, ghGitConfig(w.signingKey))
		env := ghAgentEnv(home, bp.proxyAddr, bp.agentCA, gitconfig, signSock, w.signingKey)

		outs := map[string]string{}
		for _, sc := range ghScenarios {
			// Run here, on the thread inside the namespace (a subtest's
			// goroutine may not be); checked in the subtest.
			cmd := exec.Command("/bin/sh", "-c", sc.cmd(w))
			cmd.Env, cmd.Dir = env, home
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobodyUID, Gid: nobodyUID}}
			out, _ := cmd.CombinedOutput()
			outs[sc.name] = string(out)
			t.Run(sc.name, func(t *testing.T) { sc.check(t, w, string(out)) })
		}
		t.Run("token_nowhere", func(t *testing.T) {
			where := map[string]string{"the agent's environment": strings.Join(env, "\n")}
			for name, out := range outs {
				where["the output of "+name] = out
			}
			for name, content := range filesUnder(t, home) {
				where[name] = content
			}
			ghTokenNowhere(t, w, where)
		})
	})
}

// ghGitConfig is what provision writes as an agent's GIT_CONFIG_GLOBAL
// (clem/internal/provision/gen_github.go), for the agent's key.
func ghGitConfig(key string) string {
	return `[user]
	name = "Agent One"
	email = "agent1@users.noreply.clem.invalid"
	signingKey = "key::` + key + `"
[gpg]
	format = "ssh"
[commit]
	gpgSign = "true"
[credential "https://github.com"]
	helper =
	helper = "!f() { test \"$1\" = get && printf 'username=x-access-token\\npassword=%s\\n' \"$GH_TOKEN\"; }; f"
`
}

// ghAgentEnv is the agent's environment as provision makes it: the proxy,
// agent-vault's CA, the placeholder, the signer, and git settings that
// outrank a checkout's own config.
func ghAgentEnv(home, proxy, ca, gitconfig, signer, key string) []string {
	settings := [][2]string{
		{"user.name", "Agent One"}, {"user.email", "agent1@users.noreply.clem.invalid"},
		{"core.hooksPath", "/dev/null"}, {"core.fsmonitor", "false"}, {"safe.bareRepository", "explicit"},
		{"gpg.format", "ssh"}, {"user.signingKey", "key::" + key}, {"commit.gpgSign", "true"},
	}
	allowed := filepath.Join(home, "allowed_signers")
	os.WriteFile(allowed, []byte("agent1@users.noreply.clem.invalid namespaces=\"git\" "+key+"\n"), 0o644)
	settings = append(settings, [2]string{"gpg.ssh.allowedSignersFile", allowed})
	env := []string{"PATH=/usr/bin:/bin", "HOME=" + home, "TMPDIR=" + home + "/tmp", "HTTPS_PROXY=http://" + proxy,
		"SSL_CERT_FILE=" + ca, "GIT_SSL_CAINFO=" + ca, "GH_TOKEN=" + ghPlaceholder, "GH_PROMPT_DISABLED=1", "GIT_TERMINAL_PROMPT=0",
		"NO_COLOR=1", "SSH_AUTH_SOCK=" + signer, "GIT_CONFIG_GLOBAL=" + gitconfig, "GIT_CONFIG_NOSYSTEM=1",
		fmt.Sprintf("GIT_CONFIG_COUNT=%d", len(settings))}
	for i, kv := range settings {
		env = append(env, fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, kv[0]), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, kv[1]))
	}
	return env
}

// filesUnder reads every regular file under dir (at most 1 MiB each).
func filesUnder(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && fi.Size() <= 1<<20 {
			if b, err := os.ReadFile(p); err == nil {
				out[p] = string(b)
			}
		}
		return nil
	})
	if len(out) == 0 {
		t.Fatalf("no files under %s", dir)
	}
	return out
}
