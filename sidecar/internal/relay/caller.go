package relay

import (
	"context"
	"net"
	"net/netip"
	"sync"
)

// IdentifyFunc returns the uid owning the peer socket of a loopback TCP
// connection: local is the address the peer connected to, remote the
// peer's. The daemon uses peer.TCPPeerUIDAddr (sock_diag); never anything
// the peer sends.
type IdentifyFunc func(local, remote netip.AddrPort) (uint32, error)

// connInfo is stored in each connection's context by ConnContext; the uid
// is looked up once per connection, on its first request.
type connInfo struct {
	local, remote netip.AddrPort
	once          sync.Once
	uid           uint32
	err           error
}

type connKey struct{}

// ConnContext is the http.Server hook that remembers each connection's
// uid, when the Admitter named it, or its addresses for the uid lookup.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	ci := &connInfo{}
	if ac, ok := c.(*admittedConn); ok {
		// Identified at accept; the lookup is not made twice.
		ci.uid = ac.uid
		ci.once.Do(func() {})
	}
	if a, ok := c.LocalAddr().(*net.TCPAddr); ok {
		ci.local = a.AddrPort()
	}
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ci.remote = a.AddrPort()
	}
	return context.WithValue(ctx, connKey{}, ci)
}

func (ci *connInfo) identify(f IdentifyFunc) (uint32, error) {
	ci.once.Do(func() { ci.uid, ci.err = f(ci.local, ci.remote) })
	return ci.uid, ci.err
}

// Caller is who the kernel says is calling, and the agent that uid maps to.
type Caller struct {
	UID   uint32
	Agent string
	Peer  string // the peer's address, for the audit record
}

type callerKey struct{}

func withCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

func callerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}
