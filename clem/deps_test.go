package main

import (
	"testing"

	"github.com/clemhq/clem/shared/depcheck"
)

// TestDeps: clem is the operator's tool; it never links the daemons' network stacks.
func TestDeps(t *testing.T) {
	depcheck.Forbid(t, "github.com/elazarl/goproxy", "github.com/mark3labs/mcp-go")
}
