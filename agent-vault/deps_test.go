package main

import (
	"testing"

	"github.com/clemhq/clem/shared/depcheck"
)

// TestDeps: the broker never parses clem.yaml or the operator's vault.
func TestDeps(t *testing.T) {
	depcheck.Forbid(t, "filippo.io/age", "github.com/clemhq/clem/shared/config")
}
