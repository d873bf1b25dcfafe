package tests

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// mcpChildArg makes the test binary a stdio MCP server: the tool a sidecar
// runs with a raw key (tests/sidecar_claude_test.go).
const mcpChildArg = "clem-test-mcp-child"

// The files the block tool makes in its working directory.
const (
	blockStarted = "started"
	blockRelease = "release"
)

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
	// A call that stays in flight as long as the test wants (the fault
	// matrix kills sidecar under it): it writes "started" in its working
	// directory (the child's own, emptied at every sidecar start), then
	// reads the FIFO "release" there, which blocks until someone opens it
	// for writing and closes it.
	s.AddTool(mcp.NewTool("block", mcp.WithDescription("Hold the call until released.")),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			wd, err := os.Getwd()
			if err != nil {
				return mcp.NewToolResultError("block: working directory: " + err.Error()), nil
			}
			release := filepath.Join(wd, blockRelease)
			if err := syscall.Mkfifo(release, 0o600); err != nil && err != syscall.EEXIST {
				return mcp.NewToolResultError("block: mkfifo " + release + ": " + err.Error()), nil
			}
			if err := os.WriteFile(filepath.Join(wd, blockStarted), []byte("started\n"), 0o600); err != nil {
				return mcp.NewToolResultError("block: " + err.Error()), nil
			}
			if _, err := os.ReadFile(release); err != nil {
				return mcp.NewToolResultError("block: read " + release + ": " + err.Error()), nil
			}
			return mcp.NewToolResultText("released"), nil
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
