package broker

import (
	"bytes"
	"io"
	"net"
)

// prefixConn reads pre before the connection's own bytes: the client bytes
// a proxy had read before it handed the socket over.
type prefixConn struct {
	net.Conn
	r io.Reader
}

func newPrefixConn(c net.Conn, pre []byte) net.Conn {
	if len(pre) == 0 {
		return c
	}
	return &prefixConn{Conn: c, r: io.MultiReader(bytes.NewReader(pre), c)}
}

func (p *prefixConn) Read(b []byte) (int, error) { return p.r.Read(b) }
