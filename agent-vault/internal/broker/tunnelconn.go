package broker

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
)

// tunnel is what one authenticated, TLS-terminated connection is for.
type tunnel struct {
	agent  string
	host   string
	connID string
	uid    uint32
	// release gives back the tunnel's connection slot: when the server
	// closes the connection, or when serveWebSocket ends one it took over.
	release func()
	once    sync.Once
}

// releaseConn gives the slot back once, whoever asks first.
func (t *tunnel) releaseConn() {
	t.once.Do(func() {
		if t.release != nil {
			t.release()
		}
	})
}

// tunnelConn is the socket under a tunnel's TLS, carrying the tunnel: the
// HTTP server is given the *tls.Conn (it must be one for ALPN and r.TLS),
// and finds the tunnel under it through NetConn, so who a connection is
// for rides on the connection itself, not in a table to keep in step.
type tunnelConn struct {
	net.Conn
	t *tunnel
}

// tunnelOf is the tunnel c carries, or nil for any other connection.
func tunnelOf(c net.Conn) *tunnel {
	tc, ok := c.(*tls.Conn)
	if !ok {
		return nil
	}
	if u, ok := tc.NetConn().(*tunnelConn); ok {
		return u.t
	}
	return nil
}

type tunnelKey struct{}

// connContext gives each request the tunnel its connection carries.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if t := tunnelOf(c); t != nil {
		return context.WithValue(ctx, tunnelKey{}, t)
	}
	return ctx
}

// connState gives a tunnel's slot back when its connection is closed (one
// hijacked by serveWebSocket is given back there).
func connState(c net.Conn, st http.ConnState) {
	if st == http.StateClosed {
		if t := tunnelOf(c); t != nil {
			t.releaseConn()
		}
	}
}
