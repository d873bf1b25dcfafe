package config

import (
	"os"
	"path/filepath"
	"testing"
)

// provisionGolden lists clem provision's golden copies of file (such as
// "watchdog.toml") for its fixture teams: what provision writes, pinned
// byte for byte by clem/internal/provision's golden tests.
// The result maps each copy's path under provision's testdata to its path
// from here.
func provisionGolden(t *testing.T, file string) map[string]string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "clem", "internal", "provision", "testdata")
	paths, err := filepath.Glob(filepath.Join(dir, "*", "files", "etc", "clem", "*", file+".golden"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no golden %s from clem provision in %s: the fixtures moved?", file, dir)
	}
	out := map[string]string{}
	for _, p := range paths {
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			t.Fatal(err)
		}
		out[rel] = p
	}
	return out
}

// TestProvisionedConfigLoads: every watchdog.toml clem provision writes for
// its fixture teams decodes strictly into the contract (shared/daemonconf)
// and passes the watchdog's own checks, so the writer and the reader of
// the format cannot drift apart without a test failing.
func TestProvisionedConfigLoads(t *testing.T) {
	for name, path := range provisionGolden(t, "watchdog.toml") {
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
