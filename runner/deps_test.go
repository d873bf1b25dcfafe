package main

import (
	"testing"

	"github.com/clemhq/clem/shared/depcheck"
)

// TestDeps: the runner runs as the agent: no nftables, no vault crypto (and
// no clem.yaml: its loader is internal to clem).
func TestDeps(t *testing.T) {
	depcheck.Forbid(t, "github.com/google/nftables", "filippo.io/age")
}
