// Package provisioned gives a daemon's config tests the files clem
// provision writes for its fixture teams: the golden copies that
// clem/internal/provision's golden tests pin byte for byte. A daemon that
// decodes and validates each of them cannot drift from its writer without
// a test failing, and no root is needed. The daemons' config tests import
// it.
package provisioned

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/clemhq/clem/shared/testutil/golden"
)

// Golden returns the golden copies of the files matching pattern (a
// slash-separated glob under a fixture's files/, such as
// "etc/clem/*/coord.toml"), keyed by their path under provision's testdata,
// leaving out the fixtures named in except (for example "fresh", a dry run
// before the users exist, whose uids are all 0). No match is a failure: the
// fixtures moved or the file is no longer written.
func Golden(t testing.TB, pattern string, except ...string) map[string]string {
	t.Helper()
	dir := golden.RepoPath(t, "clem/internal/provision/testdata")
	paths, err := filepath.Glob(filepath.Join(dir, "*", "files", filepath.FromSlash(pattern)+".golden"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range paths {
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			t.Fatal(err)
		}
		fixture, _, _ := strings.Cut(rel, string(filepath.Separator))
		if !contains(except, fixture) {
			out[rel] = p
		}
	}
	if len(out) == 0 {
		t.Fatalf("no golden %s from clem provision in %s (fixtures other than %v): the fixtures moved?", pattern, dir, except)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
