// Package provisioned gives a daemon's config tests the files clem
// provision writes for its fixture teams: the golden copies that
// clem/internal/provision's golden tests pin byte for byte. A daemon that
// decodes and validates each of them cannot drift from its writer without
// a test failing, and no root is needed. The daemons' config tests import
// it.
package provisioned

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Golden returns the golden copies of the files matching pattern (a
// slash-separated glob under a fixture's files/, such as
// "etc/clem/*/coord.toml"), keyed by their path under provision's testdata,
// leaving out the fixtures named in except (for example "fresh", a dry run
// before the users exist, whose uids are all 0). No match is a failure: the
// fixtures moved or the file is no longer written.
func Golden(t testing.TB, pattern string, except ...string) map[string]string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "clem", "internal", "provision", "testdata")
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

// repoRoot is the directory holding go.work, above the test's directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.work above %s: run the test inside the clem repository", dir)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
