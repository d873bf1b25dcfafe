package signer

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/clemhq/clem/shared/audit"
)

// These tests drive the signer with the real OpenSSH and git binaries, as
// an agent's git would. The peer uid is the test's own, mapped to an agent.

// run runs name with args in dir with only env (plus PATH), and returns
// its combined output and error.
func run(t *testing.T, dir string, env []string, stdin string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// toolEnv is the environment of an agent's tools: HOME and SSH_AUTH_SOCK.
func (sv *served) toolEnv() []string {
	return []string{"HOME=" + sv.dir, "SSH_AUTH_SOCK=" + sv.sock}
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSSHAddListsOnlyTheCallersKey(t *testing.T) {
	mine, other := newTestKey(t), newTestKey(t)
	sv := serve(t, []Key{mustKey(t, "alice", myUID(), mine), mustKey(t, "bob", myUID()+1, other)}, Limits{})
	out, err := run(t, sv.dir, sv.toolEnv(), "", "ssh-add", "-L")
	if err != nil {
		t.Fatalf("ssh-add -L: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 || lines[0] != mine.line+" alice" {
		t.Fatalf("ssh-add -L = %q, want exactly %q with the agent's name as comment", out, mine.line)
	}
}

func TestSSHAddListsNothingForAUIDWithoutKey(t *testing.T) {
	sv := serve(t, []Key{mustKey(t, "bob", myUID()+1, newTestKey(t))}, Limits{})
	out, err := run(t, sv.dir, sv.toolEnv(), "", "ssh-add", "-L")
	if err == nil || !strings.Contains(out, "no identities") {
		t.Fatalf("ssh-add -L for a uid without key: err %v, output %q; want failure and no identities", err, out)
	}
	recs := sv.rec.find(eventList, audit.Deny)
	if len(recs) != 1 || recs[0].UID == nil || *recs[0].UID != myUID() || !strings.Contains(recs[0].Reason, "no signing key") {
		t.Fatalf("list records = %+v, want one deny for uid %d saying no signing key", recs, myUID())
	}
}

// signFile has ssh-keygen sign msg through the agent (-U) under namespace
// ns with the key whose public half is in pubFile.
func signFile(t *testing.T, sv *served, pubFile, ns, msg string) (sigFile, out string, err error) {
	t.Helper()
	msgFile := writeFile(t, filepath.Join(sv.dir, "msg-"+ns), msg)
	out, err = run(t, sv.dir, sv.toolEnv(), "", "ssh-keygen", "-Y", "sign", "-n", ns, "-f", pubFile, "-U", msgFile)
	return msgFile + ".sig", out, err
}

func TestSSHKeygenSignsGitAndVerifies(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  func(t *testing.T) ([]byte, ssh.PublicKey)
	}{
		{"ed25519", func(t *testing.T) ([]byte, ssh.PublicKey) { k := newTestKey(t); return k.pem, k.pub }},
		// RSA exercises the SHA-2 flags ssh-keygen sends for RSA keys.
		{"rsa", genRSA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			privPEM, pub := tc.key(t)
			key, err := ParseKey("alice", myUID(), privPEM)
			if err != nil {
				t.Fatal(err)
			}
			sv := serve(t, []Key{key}, Limits{})
			line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
			pubFile := writeFile(t, filepath.Join(sv.dir, "key.pub"), line+"\n")
			sigFile, out, err := signFile(t, sv, pubFile, "git", "tree abc\n\ncommit message\n")
			if err != nil {
				t.Fatalf("ssh-keygen -Y sign -n git -U: %v\n%s", err, out)
			}
			allowed := writeFile(t, filepath.Join(sv.dir, "allowed_signers"), `alice@clem namespaces="git" `+line+"\n")
			out, err = run(t, sv.dir, sv.toolEnv(), "tree abc\n\ncommit message\n",
				"ssh-keygen", "-Y", "verify", "-f", allowed, "-I", "alice@clem", "-n", "git", "-s", sigFile)
			if err != nil || !strings.Contains(out, `Good "git" signature for alice@clem`) {
				t.Fatalf("ssh-keygen -Y verify: %v\n%s", err, out)
			}
			// The control: a changed message does not verify.
			if out, err := run(t, sv.dir, sv.toolEnv(), "tree abd\n\ncommit message\n",
				"ssh-keygen", "-Y", "verify", "-f", allowed, "-I", "alice@clem", "-n", "git", "-s", sigFile); err == nil {
				t.Fatalf("ssh-keygen -Y verify of another message succeeded:\n%s", out)
			}
			recs := sv.rec.find(eventSign, audit.Allow)
			if len(recs) != 1 {
				t.Fatalf("sign records = %+v, want one allow", sv.rec.all())
			}
			r := recs[0]
			if r.Component != "agent-vault" || r.Agent != "alice" || r.UID == nil || *r.UID != myUID() ||
				!strings.Contains(r.Reason, `namespace "git"`) || !strings.Contains(r.Reason, ssh.FingerprintSHA256(pub)) {
				t.Errorf("sign record = %+v, want agent-vault/alice/uid %d naming namespace git and the key", r, myUID())
			}
		})
	}
}

func TestSSHKeygenOtherNamespaceRefused(t *testing.T) {
	k := newTestKey(t)
	sv := serve(t, []Key{mustKey(t, "alice", myUID(), k)}, Limits{})
	pubFile := writeFile(t, filepath.Join(sv.dir, "key.pub"), k.line+"\n")
	for _, ns := range []string{"file", "email", "git-evil", "Git"} {
		if _, out, err := signFile(t, sv, pubFile, ns, "hello\n"); err == nil {
			t.Errorf("ssh-keygen -Y sign -n %s succeeded, want refused:\n%s", ns, out)
		}
	}
	// The control: the same key and tool sign for git.
	if _, out, err := signFile(t, sv, pubFile, "git", "hello\n"); err != nil {
		t.Fatalf("ssh-keygen -Y sign -n git: %v\n%s", err, out)
	}
	deny := sv.rec.find(eventSign, audit.Deny)
	if len(deny) != 4 {
		t.Fatalf("deny sign records = %+v, want 4", deny)
	}
	if !strings.Contains(deny[0].Reason, `namespace "file" refused`) || deny[0].Agent != "alice" {
		t.Errorf("deny record = %+v, want agent alice and the namespace named", deny[0])
	}
}

func TestGitCommitSignedAndVerified(t *testing.T) {
	k := newTestKey(t)
	sv := serve(t, []Key{mustKey(t, "alice", myUID(), k)}, Limits{})
	repo := filepath.Join(sv.dir, "repo")
	allowed := writeFile(t, filepath.Join(sv.dir, "allowed_signers"), `alice@clem.invalid namespaces="git" `+k.line+"\n")
	gitconfig := writeFile(t, filepath.Join(sv.dir, "gitconfig"), strings.Join([]string{
		"[user]",
		"\tname = alice",
		"\temail = alice@clem.invalid",
		// A literal key: git writes it to a temp file and passes -U, so
		// ssh-keygen must find the private half in the agent.
		"\tsigningkey = key::" + k.line,
		"[gpg]",
		"\tformat = ssh",
		`[gpg "ssh"]`,
		"\tallowedSignersFile = " + allowed,
		"[commit]",
		"\tgpgsign = true",
		"[init]",
		"\tdefaultBranch = main",
	}, "\n")+"\n")
	env := append(sv.toolEnv(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+gitconfig)
	if err := os.Mkdir(repo, 0o700); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string {
		t.Helper()
		out, err := run(t, repo, env, "", "git", args...)
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	git("init", "-q")
	writeFile(t, filepath.Join(repo, "README"), "hello\n")
	git("add", "README")
	git("commit", "-q", "-S", "-m", "signed by the vault")
	out := git("verify-commit", "-v", "HEAD")
	if !strings.Contains(out, `Good "git" signature for alice@clem.invalid`) {
		t.Errorf("git verify-commit = %q, want a good signature for alice", out)
	}
	out = git("log", "--show-signature", "-1")
	if fp := ssh.FingerprintSHA256(k.pub); !strings.Contains(out, fp) || !strings.Contains(out, "Good") {
		t.Errorf("git log --show-signature = %q, want a good signature by %s", out, fp)
	}
	if recs := sv.rec.find(eventSign, audit.Allow); len(recs) != 1 || recs[0].Agent != "alice" {
		t.Errorf("sign records = %+v, want one allow for alice", sv.rec.all())
	}

	// The control: with no key for this uid, the same commit fails.
	sv.s.Swap(nil)
	writeFile(t, filepath.Join(repo, "README"), "again\n")
	git("add", "README")
	if out, err := run(t, repo, env, "", "git", "commit", "-q", "-S", "-m", "unsigned"); err == nil {
		t.Fatalf("git commit -S without a key in the signer succeeded:\n%s", out)
	}
}

func TestSSHAddCannotChangeKeys(t *testing.T) {
	mine, planted := newTestKey(t), newTestKey(t)
	sv := serve(t, []Key{mustKey(t, "alice", myUID(), mine)}, Limits{})
	keyFile := filepath.Join(sv.dir, "planted")
	writeFile(t, keyFile, string(planted.pem))
	for _, tc := range []struct {
		name  string
		args  []string
		event string
	}{
		{"add", []string{keyFile}, eventAddKey},
		{"delete", []string{"-d", keyFile}, eventRemove},
		{"delete all", []string{"-D"}, eventRemove},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if out, err := run(t, sv.dir, sv.toolEnv(), "", "ssh-add", tc.args...); err == nil {
				t.Errorf("ssh-add %v succeeded, want refused:\n%s", tc.args, out)
			}
			if len(sv.rec.find(tc.event, audit.Deny)) == 0 {
				t.Errorf("no %s deny record in %+v", tc.event, sv.rec.all())
			}
		})
	}
	// Nothing changed: the list is still exactly the configured key.
	out, err := run(t, sv.dir, sv.toolEnv(), "", "ssh-add", "-L")
	if err != nil || strings.TrimSpace(out) != mine.line+" alice" {
		t.Fatalf("ssh-add -L after refused changes = %q (%v), want only alice's key", out, err)
	}
}
