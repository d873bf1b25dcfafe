package config

import (
	"os"
	"testing"

	"github.com/clemhq/clem/shared/testutil/provisioned"
)

// TestProvisionedConfigLoads: every pipelock.toml clem provision writes for
// its fixture teams decodes strictly into the contract (shared/daemonconf)
// and passes pipelock's own checks, so the writer and the reader of the
// format cannot drift apart without a test failing.
func TestProvisionedConfigLoads(t *testing.T) {
	for name, path := range provisioned.Golden(t, "etc/clem/*/pipelock.toml", "fresh") {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(path, data)
			if err != nil {
				t.Fatalf("Parse(%s) = %v", path, err)
			}
			if len(c.Clients) == 0 || len(c.ByUID) != len(c.Clients) {
				t.Errorf("Parse(%s): %d clients, %d indexed by uid; want every agent, one uid each", path, len(c.Clients), len(c.ByUID))
			}
		})
	}
}
