// Package mcpsession opens an MCP session over Streamable HTTP the way
// Claude Code does (a client, initialize with a session-based protocol
// version, then tool calls), for tests that play an agent against coord's
// or a sidecar's MCP endpoint. Tests across the modules import it.
package mcpsession

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// ProtocolVersion is the one the session asks for: the newest with
// sessions (the servers' per-agent session caps count them), as Claude Code
// asks today. mcp-go's latest is session-less.
const ProtocolVersion = mcp.ProtocolVersion20251125

// Open connects to url and initializes a session as the named client. hc,
// if not nil, carries the requests (for example one that never reuses a
// connection). The caller closes the client.
func Open(ctx context.Context, url, name string, hc *http.Client) (*client.Client, error) {
	var opts []transport.StreamableHTTPCOption
	if hc != nil {
		opts = append(opts, transport.WithHTTPBasicClient(hc))
	}
	c, err := client.NewStreamableHttpClient(url, opts...)
	if err != nil {
		return nil, err
	}
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = ProtocolVersion
	init.Params.ClientInfo = mcp.Implementation{Name: name, Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		c.Close()
		return nil, fmt.Errorf("initialize: %w", err)
	}
	return c, nil
}

// Call calls tool with args and returns the text of its result, joined
// by newlines, and whether the tool reported an error.
func Call(ctx context.Context, c *client.Client, tool string, args map[string]any) (text string, isError bool, err error) {
	res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: tool, Arguments: args}})
	if err != nil {
		return "", false, fmt.Errorf("call %s: %w", tool, err)
	}
	return Text(res), res.IsError, nil
}

// Text is the text content of a tool result, joined by newlines.
func Text(res *mcp.CallToolResult) string {
	var parts []string
	for _, ct := range res.Content {
		if tc, ok := ct.(mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}
