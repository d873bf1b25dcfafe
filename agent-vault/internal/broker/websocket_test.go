package broker

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
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
	tc.Close() // the record is written when the relay ends
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(e.audit.String(), `"status":101`) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(e.audit.String(), `"status":101`) || strings.Contains(e.audit.String(), realKey) {
		t.Errorf("upgrade not audited, or the audit holds the key: %s", e.audit.String())
	}
}

func TestWebSocketSurfaceNotBound(t *testing.T) {
	e := startWith(t, true, "", "", wsEcho)
	tc, br := wsDial(t, e)
	writeFrame(tc, frame{fin: true, op: opText, payload: []byte("key " + phLead)}, true)
	if f, err := readFrame(br); err == nil {
		t.Fatalf("a placeholder in a frame of a header-only binding reached upstream: %q", f.payload)
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(e.audit.String(), "websocket message refused") {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(e.audit.String(), "websocket message refused") {
		t.Errorf("refusal not audited: %s", e.audit.String())
	}
}
