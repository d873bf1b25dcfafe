package broker

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"testing"
)

// TestTunnelRidesOnTheConnection: the HTTP server's hooks find a tunnel
// on the *tls.Conn it is given, its slot is given back once however often
// the connection is reported closed, and a connection that carries no
// tunnel gets none.
func TestTunnelRidesOnTheConnection(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	released := 0
	tun := &tunnel{agent: "lead", host: "example.com", uid: 4242, release: func() { released++ }}
	tc := tls.Server(&tunnelConn{Conn: a, t: tun}, &tls.Config{})
	if got, _ := connContext(context.Background(), tc).Value(tunnelKey{}).(*tunnel); got != tun {
		t.Errorf("connContext gives %v, want the connection's tunnel", got)
	}
	connState(tc, http.StateActive)
	connState(tc, http.StateIdle)
	if released != 0 {
		t.Fatalf("released %d times before the connection closed", released)
	}
	connState(tc, http.StateClosed)
	connState(tc, http.StateClosed)
	tun.releaseConn() // serveWebSocket's, had it taken the connection over
	if released != 1 {
		t.Errorf("released %d times, want once", released)
	}
	for _, c := range []net.Conn{b, tls.Server(b, &tls.Config{})} {
		if got := connContext(context.Background(), c).Value(tunnelKey{}); got != nil {
			t.Errorf("connContext(%T) gives %v, want no tunnel", c, got)
		}
		connState(c, http.StateClosed) // nothing to give back, no panic
	}
}
