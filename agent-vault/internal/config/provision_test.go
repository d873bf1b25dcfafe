package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clemhq/clem/shared/tomlconf"
)

// provisionGolden lists clem provision's golden copies of the files
// matching pattern (under a fixture's files/, such as
// "etc/clem/*/agent-vault.toml") for its fixture teams: what provision writes,
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

// TestProvisionedConfigLoads: every agent-vault.toml clem provision writes
// for its fixture teams decodes strictly into the contract
// (shared/daemonconf) and passes agent-vault's own checks, so the writer
// and the reader of the format cannot drift apart without a test failing.
// The secrets it binds are read from $CREDENTIALS_DIRECTORY, as under
// systemd.
func TestProvisionedConfigLoads(t *testing.T) {
	for name, path := range provisionGolden(t, "etc/clem/*/agent-vault.toml") {
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
			t.Setenv("CREDENTIALS_DIRECTORY", creds)
			c, err := Load(path)
			if err != nil {
				t.Fatalf("Load(%s) = %v", path, err)
			}
			if len(c.ProxyUIDs) != 1 {
				t.Errorf("Load(%s): proxy uids %v, want pipelock's", path, c.ProxyUIDs)
			}
		})
	}
}
