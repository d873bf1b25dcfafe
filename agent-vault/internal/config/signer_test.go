package config

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSignerConfig: [signer]'s keys are read from the secrets directory
// and parsed; each mistake is an error naming the key, and never quotes
// key bytes.
func TestSignerConfig(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "key"), []byte("sk-123\n"), 0o600)
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "sign_lead")).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(dir, "not_a_key"), []byte("sk-not-a-key-XYZZY\n"), 0o600)
	signer := "\n[signer]\nsocket = \"/run/av/sign.sock\"\n[[signer.key]]\nagent = \"lead\"\nuid = 1001\nsecret = \"sign_lead\"\n"
	c, err := parse(t, dir, base+signer)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.SignerKeys) != 1 || c.SignerKeys[0].Agent != "lead" || c.SignerKeys[0].UID != 1001 {
		t.Fatalf("signer keys = %+v", c.SignerKeys)
	}
	tests := []struct{ name, src, want string }{
		{"root", strings.Replace(signer, "uid = 1001", "uid = 0", 1), "uid 0 is root"},
		{"missing key", strings.Replace(signer, `"sign_lead"`, `"sign_nobody"`, 1), `signer.key[0] (lead).secret: secret "sign_nobody" not found`},
		{"not a key", strings.Replace(signer, `"sign_lead"`, `"not_a_key"`, 1), "signer.key[0] (lead)"},
		{"no socket", strings.Replace(signer, "socket = \"/run/av/sign.sock\"\n", "", 1), "no socket"},
		{"relative socket", strings.Replace(signer, `"/run/av/sign.sock"`, `"sign.sock"`, 1), "must be an absolute path"},
		{"no keys", "\n[signer]\nsocket = \"/run/av/sign.sock\"\n", "no [[signer.key]]"},
		{"one uid, two keys", signer + "[[signer.key]]\nagent = \"other\"\nuid = 1001\nsecret = \"sign_lead\"\n", "signer:"},
	}
	for _, tt := range tests {
		_, err := parse(t, dir, base+tt.src)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error containing %q", tt.name, err, tt.want)
		}
		if err != nil && (strings.Contains(err.Error(), "XYZZY") || strings.Contains(err.Error(), "PRIVATE")) {
			t.Errorf("%s: the error quotes the secret: %v", tt.name, err)
		}
	}
}
