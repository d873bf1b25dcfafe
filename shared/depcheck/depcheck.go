// Package depcheck lets a binary's deps_test.go assert what it must never
// link, so a privilege domain cannot quietly pull in another's code (say,
// pipelock linking the vault's key handling). Import it from tests only.
package depcheck

import (
	"os/exec"
	"strings"
	"testing"
)

// Forbid fails t if the package in the current directory depends on any
// package whose import path equals or starts with one of forbidden.
func Forbid(t *testing.T, forbidden ...string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps returned only %d packages; is this a main package?", len(deps))
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f+"/") {
				t.Errorf("links %s, which this binary must never link (forbidden: %s)", d, f)
			}
		}
	}
}
