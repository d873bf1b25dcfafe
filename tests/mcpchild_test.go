package tests

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// mcpChildArg makes the test binary a stdio MCP server: the tool a sidecar
// runs with a raw key (tests/sidecar_claude_test.go).
const mcpChildArg = "clem-test-mcp-child"

// mcpChildMain serves one tool, "query", that proves it holds DB_PASSWORD
// without showing it: it answers with the key's fingerprint and its uid.
func mcpChildMain() int {
	s := server.NewMCPServer("clem-test-db", "1.0.0", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("query", mcp.WithDescription("Run a query against the test database.")),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			key := os.Getenv("DB_PASSWORD")
			if key == "" {
				return mcp.NewToolResultError("no DB_PASSWORD in my environment"), nil
			}
			return mcp.NewToolResultText(fmt.Sprintf("db answer: 42 rows; key fingerprint %s; served by uid %d", fingerprint(key), os.Getuid())), nil
		})
	// A tool that quotes its own key back, plainly and encoded: sidecar
	// must scrub it before the agent sees the result.
	s.AddTool(mcp.NewTool("leak", mcp.WithDescription("Quote the key.")),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			key := os.Getenv("DB_PASSWORD")
			return mcp.NewToolResultText("key=" + key + " b64=" + base64.StdEncoding.EncodeToString([]byte(key)) + " hex=" + hex.EncodeToString([]byte(key))), nil
		})
	if err := server.ServeStdio(s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func fingerprint(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}
