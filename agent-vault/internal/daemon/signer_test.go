package daemon

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/crypto/ssh"
)

// writeKey makes an OpenSSH ed25519 key file named name in dir and
// returns its public half.
func writeKey(t *testing.T, dir, name string) ssh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// agentUID is the agent the test plays: itself, or nobody when it runs
// as root (uid 0 is never an agent; the config refuses it).
func agentUID() uint32 {
	if os.Getuid() == 0 {
		return 65534
	}
	return uint32(os.Getuid())
}

func signerTOML(sock, secret string) string {
	return fmt.Sprintf("[signer]\nsocket = %q\n[[signer.key]]\nagent = \"lead\"\nuid = %d\nsecret = %q\n", sock, agentUID(), secret)
}

// listKeys runs the real `ssh-add -L` as the agent against the signer at
// sock and returns the keys it prints.
func listKeys(t *testing.T, sock string) []string {
	t.Helper()
	cmd := exec.Command("ssh-add", "-L")
	cmd.Env = []string{"SSH_AUTH_SOCK=" + sock, "PATH=/usr/bin:/bin"}
	if os.Getuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: agentUID(), Gid: agentUID()}}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-add -L as uid %d: %v\n%s", agentUID(), err, out)
	}
	var keys []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 {
			keys = append(keys, f[0]+" "+f[1])
		}
	}
	return keys
}

func authorized(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

// TestSignerServedAndReloaded: agent-vault serves [signer] on its socket
// (mode 0666: every agent reaches it, its uid picks the key), a reload
// swaps the keys in place, and a reload moving the socket is refused.
// The agent is the real ssh-add, run as another uid under root.
func TestSignerServedAndReloaded(t *testing.T) {
	var sock string
	var first ssh.PublicKey
	tv := startVaultWith(t, "", func(dir string) string {
		sock = filepath.Join(dir, "sign", "agent.sock")
		// The agent (nobody, under root) must pass through to the socket.
		for _, d := range []string{filepath.Dir(dir), dir} {
			if err := os.Chmod(d, 0o711); err != nil {
				t.Fatal(err)
			}
		}
		first = writeKey(t, dir, "sign_lead")
		return signerTOML(sock, "sign_lead")
	})
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o666 {
		t.Fatalf("signer socket: %v, mode %v; want 0666", err, fi.Mode())
	}
	keys := listKeys(t, sock)
	if len(keys) != 1 || keys[0] != authorized(first) {
		t.Fatalf("signer lists %v, want the lead's key", keys)
	}

	second := writeKey(t, tv.dir, "sign_lead2")
	tv.writeWith(`"api.example.com"`, signerTOML(sock, "sign_lead2"))
	if code, body := tv.reload(); code != 200 {
		t.Fatalf("reload with a new key = %d %q", code, body)
	}
	if keys := listKeys(t, sock); len(keys) != 1 || keys[0] != authorized(second) {
		t.Fatalf("after the reload the signer lists %v, want the new key", keys)
	}

	tv.writeWith(`"api.example.com"`, signerTOML(filepath.Join(tv.dir, "elsewhere.sock"), "sign_lead2"))
	if code, body := tv.reload(); code != 400 || !strings.Contains(body, "signer.socket changed") {
		t.Errorf("reload moving the socket = %d %q, want 400 saying a restart is needed", code, body)
	}
	if keys := listKeys(t, sock); len(keys) != 1 || keys[0] != authorized(second) {
		t.Errorf("a refused reload changed the signer's keys: %v", keys)
	}
	if log := tv.auditLog(); !strings.Contains(log, `"event":"reload","decision":"deny","reason":"signer.socket changed`) || strings.Contains(log, "PRIVATE KEY") {
		t.Errorf("audit log: want the refused reload and no key:\n%s", log)
	}
}
