package broker

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/audit"
)

// wsEcho is an upstream that accepts any WebSocket upgrade and answers each
// text message with what it received.
var wsEcho = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, brw, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer c.Close()
	fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", wsAccept(r.Header.Get("Sec-WebSocket-Key")))
	messages(brw, func(op byte, msg []byte) error {
		return writeFrame(c, frame{fin: true, op: op, payload: []byte("upstream got: " + string(msg))}, false)
	}, func(f frame) error { return writeFrame(c, f, false) })
})

func wsDial(t *testing.T, e *env) (*tls.Conn, *bufio.Reader) {
	t.Helper()
	c, status, body := e.handoff("example.com:443", "lead")
	if status != 200 {
		t.Fatalf("hand-off: %d %s", status, body)
	}
	tc := tls.Client(c, &tls.Config{RootCAs: e.caPool, ServerName: "example.com"})
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(tc, "GET /ws HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
	br := bufio.NewReader(tc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	return tc, br
}

// requestRecords parses the audit log's request records for path, as far
// as it has been written.
func requestRecords(t *testing.T, e *env, path string) []audit.Record {
	t.Helper()
	var out []audit.Record
	for _, l := range strings.Split(strings.TrimSpace(e.audit.String()), "\n") {
		if l == "" {
			continue
		}
		r, err := audit.Parse([]byte(l))
		if err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		if r.Event == "request" && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// TestWebSocketTextFrames: the placeholder in a text message is
// substituted and the echo scrubbed; when the agent closes, the relay's one
// record exists by the time the agent sees its connection end.
func TestWebSocketTextFrames(t *testing.T) {
	e := startWith(t, true, `surfaces = ["header", "websocket"]`, "", wsEcho)
	tc, br := wsDial(t, e)
	msg := `{"token":"` + phLead + `"}`
	if err := writeFrame(tc, frame{fin: true, op: opText, payload: []byte(msg)}, true); err != nil {
		t.Fatal(err)
	}
	f, err := readFrame(br)
	if err != nil {
		t.Fatal(err)
	}
	// Upstream saw the real key (JSON-escaped); the echo is scrubbed back.
	if got := string(f.payload); got != `upstream got: {"token":"`+phLead+`"}` {
		t.Errorf("echo = %q", got)
	}
	if err := writeFrame(tc, frame{fin: true, op: opClose, payload: []byte{0x03, 0xe8}}, true); err != nil {
		t.Fatal(err)
	}
	// Upstream's answering close may or may not make it before the relay
	// ends; the end itself must come, and after the record.
	if frames, err := agentGets(br); err != io.EOF {
		t.Fatalf("after the agent's close: %q, then %v; want the connection closed", frames, err)
	}
	recs := requestRecords(t, e, "/ws")
	if len(recs) != 1 {
		t.Fatalf("%d records of the WebSocket when the agent saw it end, want 1:\n%s", len(recs), e.audit.String())
	}
	r := recs[0]
	if r.Status != 101 || r.Decision != audit.Allow || r.Reason != "websocket relayed" || r.BytesUp == 0 || r.BytesDown != int64(len(f.payload)) {
		t.Errorf("record: status %d, %s %q, %d bytes up, %d down; want 101, allow \"websocket relayed\", some up, %d down",
			r.Status, r.Decision, r.Reason, r.BytesUp, r.BytesDown, len(f.payload))
	}
	if strings.Contains(e.audit.String(), realKey) {
		t.Errorf("the audit holds the key: %s", e.audit.String())
	}
}

// TestWebSocketSurfaceNotBound: a placeholder in a message of a binding
// without the websocket surface ends the connection, the agent told with a
// close (1008 policy violation), and the refusal's one record exists by the
// time the agent sees the end.
func TestWebSocketSurfaceNotBound(t *testing.T) {
	e := startWith(t, true, "", "", wsEcho)
	tc, br := wsDial(t, e)
	writeFrame(tc, frame{fin: true, op: opText, payload: []byte("key " + phLead)}, true)
	if frames, err := agentGets(br); err != io.EOF || fmt.Sprint(frames) != "[close:1008]" {
		t.Fatalf("after a placeholder in a frame of a header-only binding the agent got %q, then %v; want a close with 1008, then the connection closed", frames, err)
	}
	recs := requestRecords(t, e, "/ws")
	if len(recs) != 1 || recs[0].Decision != audit.Deny || recs[0].Rule != ruleSubstitution || !strings.HasPrefix(recs[0].Reason, "websocket message refused") {
		t.Errorf("when the agent saw the refusal, the records were %+v; want one, deny \"websocket message refused...\"\n%s", recs, e.audit.String())
	}
}
