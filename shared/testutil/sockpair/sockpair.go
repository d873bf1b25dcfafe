// Package sockpair gives tests a connected pair of real sockets (loopback
// TCP, or unix stream sockets on a real path), both ends closed at the
// test's cleanup: what a proxy holds for an agent, or pipelock and
// agent-vault hold between them. Tests across the modules import it.
package sockpair

import (
	"net"
	"path/filepath"
	"testing"
)

// TCP returns a loopback TCP connection: the dialing end and the accepted
// end.
func TCP(t testing.TB) (client, server *net.TCPConn) {
	t.Helper()
	c, s := pair(t, "tcp", "127.0.0.1:0")
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// Unix returns a connected pair of unix stream sockets on a path in a
// fresh temporary directory: the dialing end and the accepted end.
func Unix(t testing.TB) (client, server *net.UnixConn) {
	t.Helper()
	c, s := pair(t, "unix", filepath.Join(t.TempDir(), "pair.sock"))
	return c.(*net.UnixConn), s.(*net.UnixConn)
}

func pair(t testing.TB, network, addr string) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		client.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}
