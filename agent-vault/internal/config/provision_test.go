package config

import (
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
				if err := os.WriteFile(filepath.Join(creds, b.Secret), []byte("value-of-"+b.Secret), 0o600); err != nil {
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
