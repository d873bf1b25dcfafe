package tests

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/clemhq/clem/shared/testutil/mcpsession"
)

// mcpCall connects to the MCP endpoint at URL, initializes, and calls the
// tool named in Path (with Args); Body is the tool's text. With Count > 0
// it only opens Count sessions (initialize, never closed) and reports how
// many the server accepted.
func (p probe) mcpCall(timeout time.Duration) outcome {
	ctx, cancel := context.WithTimeout(context.Background(), 3*timeout)
	defer cancel()
	if p.Count > 0 {
		return p.mcpSessions(ctx)
	}
	c, err := mcpsession.Open(ctx, p.URL, "clem-containment", nil)
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	if p.Path == "" {
		return outcome{OK: true, Body: "initialized"}
	}
	text, isError, err := mcpsession.Call(ctx, c, p.Path, p.Args)
	if err != nil {
		return fail(err)
	}
	return outcome{OK: !isError, Body: text}
}

// mcpSessions posts Count initialize requests, each a new session, and
// counts those the server accepted (200 with a session id). It speaks the
// wire format itself: mcp-go's client takes a 4xx answer to initialize
// for a legacy SSE server and falls back, which would count refusals as
// sessions.
func (p probe) mcpSessions(ctx context.Context) outcome {
	const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"clem-containment","version":"1"}}}`
	n, refused := 0, map[int]int{}
	var last error
	for i := 0; i < p.Count; i++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, strings.NewReader(initialize))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			last = err
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && resp.Header.Get("Mcp-Session-Id") != "" {
			n++
		} else {
			refused[resp.StatusCode]++
		}
	}
	o := outcome{OK: true, N: n, Body: fmt.Sprintf("%d of %d sessions accepted, refused by status %v", n, p.Count, refused)}
	if last != nil {
		o.Err = last.Error()
	}
	return o
}
