package config

import (
	"os"
	"testing"

	"github.com/clemhq/clem/shared/testutil/provisioned"
)

// TestProvisionedConfigLoads: every watchdog.toml clem provision writes for
// its fixture teams decodes strictly into the contract (shared/daemonconf)
// and passes the watchdog's own checks, so the writer and the reader of
// the format cannot drift apart without a test failing.
func TestProvisionedConfigLoads(t *testing.T) {
	for name, path := range provisioned.Golden(t, "etc/clem/*/watchdog.toml") {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(path, data)
			if err != nil {
				t.Fatalf("Parse(%s) = %v", path, err)
			}
			if len(c.Agents)+len(c.Daemons) == 0 {
				t.Errorf("Parse(%s) watches nothing", path)
			}
		})
	}
}
