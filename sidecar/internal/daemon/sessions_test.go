package daemon

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/testutil/mcpsession"
	"github.com/clemhq/clem/sidecar/internal/relay"
)

// TestSessionCap: an agent may hold max_sessions_per_uid MCP sessions;
// the next initialize is refused with 429 and a JSON-RPC error, audited
// once for the whole flood (the first refusal, then one summary with the
// count). Ending a session (DELETE) gives its place back; so does idling
// past session_idle, after which the idle session's id is unknown (404).
func TestSessionCap(t *testing.T) {
	e := newEnv(t)
	e.limits = "max_sessions_per_uid = 3\nmax_sessions = 10"
	oneServer(e, "")
	d := e.start(Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var open []*client.Client
	refused := 0
	for i := 0; i < 20; i++ {
		c, err := mcpsession.Open(ctx, e.url("tools"), "agent", nil)
		if err != nil {
			// mcp-go's client does not show the answer's text; the raw
			// POST below checks it.
			refused++
			continue
		}
		open = append(open, c)
	}
	if len(open) != 3 || refused != 17 {
		t.Fatalf("%d sessions accepted, %d refused; want 3 and 17", len(open), refused)
	}
	code, body := post(t, e.url("tools"), `{"jsonrpc":"2.0","id":9,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`)
	if code != http.StatusTooManyRequests || !strings.Contains(body, `"code":-32600`) || !strings.Contains(body, relay.RuleSessionsPerUID) {
		t.Errorf("raw initialize over the cap: %d %s, want 429 with a JSON-RPC error naming the limit", code, body)
	}
	// The sessions held still work.
	if text, _, err := mcpsession.Call(ctx, open[0], "echo", map[string]any{"text": "still"}); err != nil || text != "still" {
		t.Errorf("a held session after the flood: %q, %v", text, err)
	}
	// DELETE gives a place back.
	open[0].Close()
	c, err := mcpsession.Open(ctx, e.url("tools"), "agent", nil)
	if err != nil {
		t.Fatalf("initialize after a DELETE: %v", err)
	}
	defer c.Close()

	recs := sessionRefusals(e)
	if len(recs) != 1 || recs[0].Agent != "lead" || recs[0].Status != http.StatusTooManyRequests || recs[0].Count != 0 {
		t.Fatalf("refusal records before the flood's summary = %+v, want only the first", recs)
	}
	d.Close() // ends the flood's window: its summary is written
	recs = sessionRefusals(e)
	if len(recs) != 2 || recs[1].Count != 17 {
		t.Errorf("refusal records = %+v, want the first and a summary counting the other 17", recs)
	}
}

func sessionRefusals(e *env) []audit.Record {
	var out []audit.Record
	for _, r := range e.records(relay.EventRefused) {
		if r.Rule == relay.RuleSessionsPerUID {
			out = append(out, r)
		}
	}
	return out
}

// TestBindFailureNamesThePort: a port another process holds makes Start
// fail with an error naming the server and the port (the daemon exits
// non-zero with it), never a daemon that runs without its port.
func TestBindFailureNamesThePort(t *testing.T) {
	squatter, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer squatter.Close()
	addr := squatter.Addr().String()
	e := newEnv(t)
	e.write(fmt.Sprintf(`
[[client]]
name = "lead"
uids = [%d]

[[server]]
name = "tools"
listen = %q
command = [{{BIN}}]
agents = ["lead"]
`, me, addr))
	_, err = Start(e.cfgPath, Options{})
	if err == nil || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "server tools") {
		t.Fatalf("Start with %s taken = %v, want an error naming the server and the port", addr, err)
	}
	// Control: the same config with the port free starts.
	squatter.Close()
	d, err := Start(e.cfgPath, Options{})
	if err != nil {
		t.Fatalf("control: Start with %s free: %v", addr, err)
	}
	d.Close()
}
