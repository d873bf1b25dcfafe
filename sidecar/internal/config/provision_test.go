package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/clemhq/clem/shared/testutil/provisioned"
	"github.com/clemhq/clem/shared/tomlconf"
)

// TestProvisionedConfigLoads: every sidecar-<name>.toml clem provision
// writes for its fixture teams decodes strictly into the contract
// (shared/daemonconf) and passes sidecar's own checks, so the writer and
// the reader of the format cannot drift apart without a test failing. The
// secrets it names are read from $CREDENTIALS_DIRECTORY, as under systemd.
func TestProvisionedConfigLoads(t *testing.T) {
	for name, path := range provisioned.Golden(t, "etc/clem/*/sidecar-*.toml", "fresh") {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var f File
			if err := tomlconf.Decode(path, data, &f); err != nil {
				t.Fatalf("decode %s: %v", path, err)
			}
			creds := t.TempDir()
			for _, s := range f.Servers {
				for _, r := range s.Secrets {
					if err := os.WriteFile(filepath.Join(creds, r.Name), []byte("value-of-"+r.Name), 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			t.Setenv("CREDENTIALS_DIRECTORY", creds)
			c, err := Parse(path, data)
			if err != nil {
				t.Fatalf("Parse(%s) = %v", path, err)
			}
			if len(c.Servers) != 1 || len(c.Agents) == 0 {
				t.Errorf("Parse(%s): %d servers for %d agent uids, want one server for some agents", path, len(c.Servers), len(c.Agents))
			}
		})
	}
}
