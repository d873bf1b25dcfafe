package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// provisionGolden lists clem provision's golden copies of the files
// matching pattern (under a fixture's files/, such as
// "etc/clem/*/pipelock.toml") for its fixture teams: what provision writes,
// pinned byte for byte by clem/internal/provision's golden tests. The
// result maps each copy's path under provision's testdata to its path from
// here. The fixture "fresh" is left out: it is a dry run before the users
// exist, so every uid in it is 0 and no daemon ever reads its files.
func provisionGolden(t *testing.T, pattern string) map[string]string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "clem", "internal", "provision", "testdata")
	paths, err := filepath.Glob(filepath.Join(dir, "*", "files", filepath.FromSlash(pattern)+".golden"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no golden %s from clem provision in %s: the fixtures moved?", pattern, dir)
	}
	out := map[string]string{}
	for _, p := range paths {
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(rel, "fresh"+string(filepath.Separator)) {
			continue
		}
		out[rel] = p
	}
	return out
}

// TestProvisionedConfigLoads: every pipelock.toml clem provision writes for
// its fixture teams decodes strictly into the contract (shared/daemonconf)
// and passes pipelock's own checks, so the writer and the reader of the
// format cannot drift apart without a test failing.
func TestProvisionedConfigLoads(t *testing.T) {
	for name, path := range provisionGolden(t, "etc/clem/*/pipelock.toml") {
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
