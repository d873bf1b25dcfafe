package config

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/clemhq/clem/shared/testutil/golden"
	"github.com/clemhq/clem/shared/testutil/provisioned"
	"github.com/clemhq/clem/shared/tomlconf"
)

// TestProvisionedConfigLoads: every agent-vault.toml clem provision writes
// for its fixture teams decodes strictly into the contract
// (shared/daemonconf) and passes agent-vault's own checks, so the writer
// and the reader of the format cannot drift apart without a test failing.
// The secrets it binds are read from $CREDENTIALS_DIRECTORY, as under
// systemd.
func TestProvisionedConfigLoads(t *testing.T) {
	for name, path := range provisioned.Golden(t, "etc/clem/*/agent-vault.toml", "fresh") {
		t.Run(name, func(t *testing.T) {
			var f File
			if err := tomlconf.Load(path, &f); err != nil {
				t.Fatal(err)
			}
			creds := t.TempDir()
			for _, b := range f.Bindings {
				name, value := b.Secret, []byte("value-of-"+b.Secret)
				if a := b.GitHubApp; a != nil {
					name, value = a.KeySecret, rsaKeyPEM(t) // a GitHub App's key: a real one
				}
				if err := os.WriteFile(filepath.Join(creds, name), value, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			// Signing keys are real OpenSSH keys: provision's fixture ones.
			for _, k := range f.Signer.Keys {
				b, err := os.ReadFile(golden.RepoPath(t, "clem/internal/provision/testdata/signing/"+k.Secret))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(creds, k.Secret), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("CREDENTIALS_DIRECTORY", creds)
			c, err := Load(path)
			if err != nil {
				t.Fatalf("Load(%s) = %v", path, err)
			}
			if len(c.SignerKeys) != len(f.Signer.Keys) {
				t.Errorf("Load(%s): %d signer keys, want %d", path, len(c.SignerKeys), len(f.Signer.Keys))
			}
			if len(c.ProxyUIDs) != 1 {
				t.Errorf("Load(%s): proxy uids %v, want pipelock's", path, c.ProxyUIDs)
			}
		})
	}
}

// rsaKeyPEM is a fresh 2048-bit RSA key in PKCS#1 PEM, as GitHub hands
// out App keys.
func rsaKeyPEM(t *testing.T) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}
