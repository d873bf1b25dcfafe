package daemon

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/sidecar/internal/relay"
)

// leakServer is oneServer with a secret the child holds as DB_PASSWORD.
func leakServer(e *env, extra string) {
	e.secret("db_password", dbPassword)
	oneServer(e, `
[[server.secret]]
name = "db_password"
env = "DB_PASSWORD"
`+extra)
}

const dbPassword = `s3cr<t"pw/+x`

// secretForms are the encodings the leak tool uses, written out here
// rather than taken from shared/scrub, so the test does not grade the
// scrubber by itself.
func secretForms(v string) []string {
	return []string{v, base64.StdEncoding.EncodeToString([]byte(v)), base64.RawURLEncoding.EncodeToString([]byte(v)),
		hex.EncodeToString([]byte(v)), url.QueryEscape(v), strings.ReplaceAll(strings.ReplaceAll(v, `"`, `\"`), "<", `\u003c`),
		base64.StdEncoding.EncodeToString([]byte("user:" + v))[8:20]}
}

// TestToolQuotesItsSecret: a tool that puts the server's own secret in its
// answer (plain, base64, hex, URL-encoded, JSON-escaped, inside Basic
// credentials) reaches the agent without any of those forms. The control
// asks the child directly, past the relay: it does quote the secret.
func TestToolQuotesItsSecret(t *testing.T) {
	e := newEnv(t)
	leakServer(e, "")
	d := e.start(Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cl, err := d.Relay("tools").Backend("lead").Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := cl.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "leak", Arguments: map[string]any{"env": "DB_PASSWORD"}}})
	if err != nil {
		t.Fatal(err)
	}
	direct := res.Content[0].(mcp.TextContent).Text
	for _, f := range secretForms(dbPassword)[:5] {
		if !strings.Contains(direct, f) {
			t.Fatalf("control: the child's own answer lacks %q; the test proves nothing:\n%s", f, direct)
		}
	}

	// The raw wire, not only what a client decodes.
	body := rawCall(t, e.url("tools"), "leak", `{"env":"DB_PASSWORD"}`)
	for _, f := range secretForms(dbPassword) {
		if strings.Contains(body, f) {
			t.Errorf("the agent's answer holds %q:\n%s", f, body)
		}
	}
	if !strings.Contains(body, "[REDACTED:db_password]") || !strings.Contains(body, "postgres://app:") {
		t.Errorf("the answer is not the tool's, scrubbed:\n%s", body)
	}
	if strings.Contains(e.auditText(), dbPassword) {
		t.Error("the secret reached the audit log")
	}
}

// rawCall initializes a session over plain HTTP and calls tool, returning
// the call's whole response body as the wire carried it.
func rawCall(t *testing.T, u, tool, args string) string {
	t.Helper()
	do := func(sid, body string) (*http.Response, string) {
		req, _ := http.NewRequest("POST", u, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		if sid != "" {
			req.Header.Set("Mcp-Session-Id", sid)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, b := do("", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	sid := resp.Header.Get("Mcp-Session-Id")
	if sid == "" {
		t.Fatalf("initialize: %d %s", resp.StatusCode, b)
	}
	do(sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	_, b = do(sid, fmt.Sprintf(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":%q,"arguments":%s}}`, tool, args))
	return b
}

// countingListener counts the bytes sidecar reads from its connections.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.n}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// endless is a body of n bytes made as it is read, never held whole.
type endless struct{ left int64 }

func (r *endless) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), r.left)
	for i := range p[:n] {
		p[i] = ' '
	}
	r.left -= n
	return int(n), nil
}

// TestHugeBody: a 512 MiB body is refused without being read: by its
// declared length before a byte of it is read, and without a length once
// max_body_bytes have been read. The control raises the limit and shows
// that a body under it is read whole (the counter sees it).
func TestHugeBody(t *testing.T) {
	e := newEnv(t)
	e.limits = "max_body_bytes = 65536"
	oneServer(e, "")
	var read atomic.Int64
	e.start(Options{Listen: func(addr string) (net.Listener, error) {
		ln, err := net.Listen("tcp", addr)
		return countingListener{ln, &read}, err
	}})
	const huge = 512 << 20
	post := func(body io.Reader, length int64) int {
		req, _ := http.NewRequest("POST", e.url("tools"), body)
		req.ContentLength = length
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0 // the connection closed under the upload: refused too
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	read.Store(0)
	if code := post(&endless{huge}, huge); code != 0 && code != http.StatusRequestEntityTooLarge {
		t.Errorf("declared %d bytes: status %d, want 413 or closed", huge, code)
	}
	if n := read.Load(); n > 1<<20 {
		t.Errorf("declared %d bytes: sidecar read %d bytes, want it refused before the body", huge, n)
	}
	read.Store(0)
	if code := post(&endless{huge}, -1); code != 0 && code != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked %d bytes: status %d, want 413 or closed", huge, code)
	}
	if n := read.Load(); n > 2<<20 {
		t.Errorf("chunked %d bytes: sidecar read %d bytes, want about max_body_bytes (64 KiB)", huge, n)
	}
	var refusals []audit.Record
	for _, r := range e.records(relay.EventRefused) {
		if r.Rule == relay.RuleBody {
			refusals = append(refusals, r)
		}
	}
	if len(refusals) != 1 || refusals[0].UID == nil || refusals[0].Agent != "lead" || refusals[0].Status != http.StatusRequestEntityTooLarge {
		t.Errorf("body refusals = %+v, want one record (the flood's first) naming lead", refusals)
	}

	// Control: a 512 KiB body under a 1 MiB limit is read whole.
	e.limits = "max_body_bytes = 1048576"
	oneServer(e, "")
	if err := e.d.Reload(); err != nil {
		t.Fatal(err)
	}
	read.Store(0)
	pad := `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"pad":"` + strings.Repeat("a", 512<<10) + `"}}}`
	post(bytes.NewReader([]byte(pad)), int64(len(pad)))
	if n := read.Load(); n < 512<<10 {
		t.Errorf("control: sidecar read %d bytes of a %d-byte body under its limit; the counter does not see reads", n, len(pad))
	}
}
