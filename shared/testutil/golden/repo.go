package golden

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// RepoPath is rel (slash-separated, from the repository root: the
// directory holding go.work) as a path the test can open, for inputs
// that tests in several modules share, such as the recorded streams in
// shared/agentstream/testdata. go test's cache does not watch files
// outside the test's own module, so after editing such a file run the
// tests that read it with -count=1.
func RepoPath(t testing.TB, rel string) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("golden: %v", err)
	}
	return filepath.Join(root, filepath.FromSlash(rel))
}

// repoRoot is the directory holding go.work, at or above the test's
// directory (go test runs a test in its package's directory).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the repository root: %w", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("no go.work above " + dir + ": run the test inside the clem repository")
		}
	}
}

// refreshHint says how to rewrite the goldens of the test named name
// (t.Name()): the command, and where to run it.
func refreshHint(name string) string {
	pkg, from := ".", "in the package's directory"
	if root, err := repoRoot(); err == nil {
		if wd, err := os.Getwd(); err == nil {
			if rel, err := filepath.Rel(root, wd); err == nil {
				pkg, from = "./"+filepath.ToSlash(rel), "from the repository root"
			}
		}
	}
	return fmt.Sprintf("If the change is meant, refresh it (%s): go test %s -run %s -update, then review the diff.", from, pkg, runPattern(name))
}

// runPattern is a -run pattern, quoted for a shell, that selects exactly
// the test or subtest named name.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return "'" + strings.ReplaceAll(strings.Join(parts, "/"), "'", `'\''`) + "'"
}
