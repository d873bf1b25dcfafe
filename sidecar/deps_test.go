package main

import (
	"testing"

	"github.com/clemhq/clem/shared/depcheck"
)

// TestDeps: sidecar never reads the operator's vault or clem.yaml.
func TestDeps(t *testing.T) {
	depcheck.Forbid(t, "filippo.io/age", "github.com/clemhq/clem/shared/config")
}
