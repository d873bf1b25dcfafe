package main

import (
	"testing"

	"github.com/clemhq/clem/shared/depcheck"
)

// TestDeps: the broker never links the operator's vault crypto (clem.yaml
// lives in clem/internal/config, which Go's internal rule keeps out).
func TestDeps(t *testing.T) {
	depcheck.Forbid(t, "filippo.io/age")
}
