package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/clemhq/clem/tests/fakegithub"
)

// TestGitHubKeys: `clem github keys` makes each signing agent's key in the
// vault once, prints only the public half, and prints the same key again
// on a second run.
func TestGitHubKeys(t *testing.T) {
	dir, env := team(t)
	yaml := filepath.Join(dir, "clem.yaml")
	b, err := os.ReadFile(yaml)
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(b), "\nagents:\n", "\nagents:\n  coder:\n    github:\n      push: [acme/app]\n  quiet:\n    github:\n      read: [acme/app]\n      sign: false\n", 1)
	if src == string(b) {
		t.Fatal("clem init's clem.yaml has no agents: line to extend")
	}
	if err := os.WriteFile(yaml, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runBin(t, dir, env, "", "clem", "vault", "init"); r.code != 0 {
		t.Fatalf("vault init: exit %d\n%s", r.code, r.stderr)
	}
	if r := runBin(t, dir, env, "", "clem", "check"); !strings.Contains(r.stdout+r.stderr, "agent coder signs its commits but") || !strings.Contains(r.stdout, "github coder: level pr, push acme/app") {
		t.Errorf("clem check before the keys exist: exit %d, want the github line and a warning to run clem github keys:\n%s%s", r.code, r.stdout, r.stderr)
	}
	first := runBin(t, dir, env, "", "clem", "github", "keys")
	if first.code != 0 || !strings.Contains(first.stderr, "made github_sign_coder") {
		t.Fatalf("github keys: exit %d\n%s%s", first.code, first.stdout, first.stderr)
	}
	fields := strings.Fields(first.stdout)
	if len(fields) != 3 || fields[0] != "coder" || fields[1] != "ssh-ed25519" {
		t.Fatalf("github keys printed %q, want one line: coder ssh-ed25519 KEY (quiet does not sign)", first.stdout)
	}
	get := runBin(t, dir, env, "", "clem", "vault", "get", "github_sign_coder")
	signer, err := ssh.ParsePrivateKey([]byte(get.stdout))
	if err != nil {
		t.Fatalf("the vault's github_sign_coder is not an OpenSSH key: %v", err)
	}
	if pub := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))); pub != fields[1]+" "+fields[2] {
		t.Errorf("printed %s %s, the vault's key is %s", fields[1], fields[2], pub)
	}
	second := runBin(t, dir, env, "", "clem", "github", "keys")
	if second.code != 0 || second.stdout != first.stdout || strings.Contains(second.stderr, "made") {
		t.Errorf("second run: exit %d, stdout %q (first %q), stderr %q", second.code, second.stdout, first.stdout, second.stderr)
	}
	if r := runBin(t, dir, env, "", "clem", "check"); strings.Contains(r.stdout+r.stderr, "vault entry github_sign_coder is not used") || strings.Contains(r.stdout+r.stderr, "signs its commits but") {
		t.Errorf("clem check after clem github keys still warns about the key:\n%s%s", r.stdout, r.stderr)
	}
	// --register adds it to the agent's account with the agent's token,
	// once; GitHub is the fake, reached through clem.yaml's test knobs.
	gh := fakegithub.Start(t, fakegithub.Options{Token: ghRealToken, Login: "acme-coder"})
	writeFile(t, filepath.Join(dir, "github-ca.pem"), string(gh.CertPEM()))
	b, _ = os.ReadFile(yaml)
	src = strings.Replace(string(b), "\negress:\n", "\negress:\n  resolve: [\"api.github.com:443="+gh.Addr()+"\"]\n  upstream_ca: github-ca.pem\n", 1)
	if err := os.WriteFile(yaml, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runBin(t, dir, env, "", "clem", "github", "keys", "--register"); r.code == 0 || !strings.Contains(r.stderr, "github_coder") {
		t.Errorf("--register without the agent's token in the vault: exit %d, want an error naming github_coder:\n%s%s", r.code, r.stdout, r.stderr)
	}
	runBin(t, dir, env, "not-the-token\n", "clem", "vault", "set", "github_coder")
	if r := runBin(t, dir, env, "", "clem", "github", "keys", "--register"); r.code == 0 || !strings.Contains(r.stderr, "401") || strings.Contains(r.stdout+r.stderr, "not-the-token") {
		t.Errorf("--register with a wrong token: exit %d, want a 401 that does not print the token:\n%s%s", r.code, r.stdout, r.stderr)
	}
	runBin(t, dir, env, ghRealToken+"\n", "clem", "vault", "set", "github_coder")
	reg := runBin(t, dir, env, "", "clem", "github", "keys", "--register")
	if reg.code != 0 || !strings.Contains(reg.stdout, "coder: registered") {
		t.Fatalf("--register: exit %d\n%s%s", reg.code, reg.stdout, reg.stderr)
	}
	if keys := gh.Keys(); len(keys) != 1 || keys[0].Login != "acme-coder" || !strings.HasPrefix(keys[0].Key, fields[1]+" "+fields[2]) {
		t.Errorf("GitHub's signing keys after --register: %+v", keys)
	}
	if again := runBin(t, dir, env, "", "clem", "github", "keys", "--register"); again.code != 0 || !strings.Contains(again.stdout, "coder: already registered") || len(gh.Keys()) != 1 {
		t.Errorf("--register again: exit %d, %d keys on GitHub\n%s%s", again.code, len(gh.Keys()), again.stdout, again.stderr)
	}
	for _, out := range []string{first.stdout, first.stderr, second.stdout, second.stderr, reg.stdout, reg.stderr} {
		if strings.Contains(out, "PRIVATE KEY") {
			t.Errorf("github keys printed a private key:\n%s", out)
		}
	}
}
