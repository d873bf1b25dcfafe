package main

import (
	"testing"

	"github.com/clemhq/clem/shared/depcheck"
)

// TestDeps: sidecar holds tool keys only: it never reads the operator's
// vault (clem.yaml's loader is internal to clem), never links the broker's code or nftables (it cannot
// change anyone's egress), and never ships its test MCP server.
func TestDeps(t *testing.T) {
	depcheck.Forbid(t,
		"filippo.io/age",
		"github.com/clemhq/clem/agent-vault",
		"github.com/google/nftables",
		"github.com/mdlayher/netlink",
		"github.com/clemhq/clem/sidecar/internal/testmcp",
	)
}
