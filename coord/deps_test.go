package main

import (
	"testing"

	"github.com/clemhq/clem/shared/depcheck"
)

// TestDeps: coord holds only coordination tokens: no vault crypto, no nftables.
func TestDeps(t *testing.T) {
	depcheck.Forbid(t, "filippo.io/age", "github.com/google/nftables")
}
