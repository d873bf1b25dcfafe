package main

import (
	"testing"

	"github.com/clemhq/clem/shared/depcheck"
)

// TestDeps: pipelock holds no secrets: no vault crypto, no systemd credential store.
func TestDeps(t *testing.T) {
	depcheck.Forbid(t, "filippo.io/age")
}
