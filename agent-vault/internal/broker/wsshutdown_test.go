package broker

import (
	"fmt"
	"io"
	"testing"

	"github.com/clemhq/clem/shared/audit"
	"go.uber.org/goleak"
)

// TestShutdownEndsRelays: Shutdown ends a WebSocket relay in flight, though
// the HTTP server stopped tracking its connection when the relay took it
// over: both sides get close 1001 (going away), the relay's one record is
// written and the tunnel's slot given back by the time Shutdown returns,
// and none of the relay's goroutines outlives it.
func TestShutdownEndsRelays(t *testing.T) {
	// Registered first, so it runs last, after the env's own cleanups
	// (the upstream server, the agent's socket).
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
	got := make(chan string, 16)
	e := startWith(t, true, "auth = \"\"\nsurfaces = [\"header\", \"websocket\"]", "", wsScripted(nil, got))
	tc, br := wsDial(t, e)
	if err := writeFrame(tc, frame{fin: true, op: opText, payload: []byte("hi")}, true); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "text:hi" {
		t.Fatalf("upstream got %q, want text:hi", s)
	}
	if err := e.srv.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	const reasonShutdown = "websocket relayed; agent-vault shut down"
	recs := requestRecords(t, e, "/ws")
	if len(recs) != 1 || recs[0].Decision != audit.Allow || recs[0].Reason != reasonShutdown || recs[0].BytesUp != 2 {
		t.Errorf("when Shutdown returned, the relay's records were %+v; want one, allow %q, 2 bytes up\n%s", recs, reasonShutdown, e.audit.String())
	}
	if n := e.srv.conns.Held(agentUID); n != 0 {
		t.Errorf("the agent holds %d tunnel slots after Shutdown, want 0", n)
	}
	frames, err := agentGets(br)
	tc.Close() // so upstream's side ends even if the relay went on
	if err != io.EOF || fmt.Sprint(frames) != "[close:1001]" {
		t.Errorf("the agent got %q, then %v; want a close with 1001, then the connection closed", frames, err)
	}
	if up := upstreamGets(got); fmt.Sprint(up) != "[close:1001]" {
		t.Errorf("upstream got %q, want a close with 1001", up)
	}
}
