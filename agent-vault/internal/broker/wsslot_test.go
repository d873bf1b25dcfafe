package broker

import (
	"fmt"
	"io"
	"net/http"
	"testing"
)

// wsRefusing is an upstream that answers a WebSocket handshake on /refuse
// with a 403 and one on /bad-accept with a 101 that does not answer the
// key, and any other request with 200.
var wsRefusing = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	var answer string
	switch r.URL.Path {
	case "/refuse":
		answer = "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno"
	case "/bad-accept":
		answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n"
	default:
		io.WriteString(w, "ok")
		return
	}
	c, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer c.Close()
	io.WriteString(c, answer)
})

// TestWebSocketNotTakenOverKeepsSlot: a WebSocket handshake the broker
// answers itself, without taking the connection over (upstream refused the
// upgrade or answered it wrongly), leaves the tunnel carrying requests, so
// the tunnel keeps its slot: with a cap of one the agent's next request on
// it is served and a second tunnel is refused. (Had the slot gone back, the
// agent could hold any number of live tunnels past its cap.) The
// handshake has one record, written before the agent gets its answer.
func TestWebSocketNotTakenOverKeepsSlot(t *testing.T) {
	for _, tt := range []struct {
		path   string
		status int
	}{
		{"/refuse", http.StatusForbidden},
		{"/bad-accept", http.StatusBadGateway},
	} {
		t.Run(tt.path, func(t *testing.T) {
			e := startWith(t, true, "", "[limits]\nconns_per_agent = 1\n", wsRefusing)
			tc, br := tunnelTo(t, e)
			fmt.Fprintf(tc, "GET %s HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", tt.path)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != tt.status {
				t.Fatalf("handshake: %v %v, want %d", resp, err, tt.status)
			}
			io.Copy(io.Discard, resp.Body)
			// One record, written before the agent had its answer.
			if recs := requestRecords(t, e, tt.path); len(recs) != 1 || recs[0].Status != tt.status {
				t.Errorf("when the agent had its answer, the records of the handshake were %+v; want one with status %d\n%s", recs, tt.status, e.audit.String())
			}
			// Answered in turn on one connection, so the handshake's
			// handler has returned once this answer is read.
			fmt.Fprintf(tc, "GET /next HTTP/1.1\r\nHost: example.com\r\n\r\n")
			resp, err = http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("the next request on the tunnel: %v %v", resp, err)
			}
			if n := e.srv.conns.Held(agentUID); n != 1 {
				t.Errorf("the agent holds %d tunnel slots with one tunnel open, want 1", n)
			}
			if _, code, body := e.handoff("example.com:443", "lead"); code != http.StatusServiceUnavailable {
				t.Errorf("a second tunnel at a cap of one: %d %s, want 503", code, body)
			}
		})
	}
}

// TestWebSocketRelayHoldsSlot: a relayed WebSocket holds its tunnel's slot
// while it carries messages (control for the test above).
func TestWebSocketRelayHoldsSlot(t *testing.T) {
	e := startWith(t, true, "", "[limits]\nconns_per_agent = 1\n", wsEcho)
	tc, br := wsDial(t, e)
	writeFrame(tc, frame{fin: true, op: opBinary, payload: []byte("hi")}, true)
	if f, err := readFrame(br); err != nil || string(f.payload) != "upstream got: hi" {
		t.Fatalf("echo: %q, %v", f.payload, err)
	}
	if n := e.srv.conns.Held(agentUID); n != 1 {
		t.Errorf("the agent holds %d tunnel slots while relaying, want 1", n)
	}
	if _, code, body := e.handoff("example.com:443", "lead"); code != http.StatusServiceUnavailable {
		t.Errorf("a second tunnel at a cap of one: %d %s, want 503", code, body)
	}
}
