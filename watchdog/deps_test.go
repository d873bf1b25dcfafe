package main

import (
	"testing"

	"github.com/clemhq/clem/shared/depcheck"
)

// TestDeps: the watchdog reads state only: no nftables writes, no vault crypto.
func TestDeps(t *testing.T) {
	depcheck.Forbid(t, "github.com/google/nftables", "filippo.io/age")
}
