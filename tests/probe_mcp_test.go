package tests

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
)

// mcpCall connects to the MCP endpoint at URL, initializes, and calls the
// tool named in Path (no arguments); Body is the tool's text. With Count
// > 0 it only opens Count sessions (initialize, never closed) and reports
// how many the server accepted.
func (p probe) mcpCall(timeout time.Duration) outcome {
	ctx, cancel := context.WithTimeout(context.Background(), 3*timeout)
	defer cancel()
	if p.Count > 0 {
		n := 0
		var last error
		for i := 0; i < p.Count; i++ {
			c, err := mcpSession(ctx, p.URL)
			if err != nil {
				last = err
				continue
			}
			_ = c // kept open: the server holds its session
			n++
		}
		o := outcome{OK: true, N: n, Body: fmt.Sprintf("%d of %d sessions accepted", n, p.Count)}
		if last != nil {
			o.Err = last.Error()
		}
		return o
	}
	c, err := mcpSession(ctx, p.URL)
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	if p.Path == "" {
		return outcome{OK: true, Body: "initialized"}
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = p.Path
	req.Params.Arguments = p.Args
	res, err := c.CallTool(ctx, req)
	if err != nil {
		return fail(err)
	}
	var text []string
	for _, ct := range res.Content {
		if tc, ok := ct.(mcp.TextContent); ok {
			text = append(text, tc.Text)
		}
	}
	return outcome{OK: !res.IsError, Body: strings.Join(text, "\n")}
}

func mcpSession(ctx context.Context, url string) (*client.Client, error) {
	c, err := client.NewStreamableHttpClient(url)
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "clem-containment", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		c.Close()
		return nil, fmt.Errorf("initialize: %w", err)
	}
	return c, nil
}
