package peer

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestUnixPeer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.DialUnix("unix", nil, ln.Addr().(*net.UnixAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	got, err := UnixPeer(server)
	if err != nil {
		t.Fatalf("UnixPeer: %v", err)
	}
	want := Cred{UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), PID: int32(os.Getpid())}
	if got != want {
		t.Errorf("UnixPeer = %+v, want %+v (ourselves)", got, want)
	}
}

func TestUnixPeerClosed(t *testing.T) {
	a, b, err := unixPair()
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	a.Close()
	if c, err := UnixPeer(a); err == nil {
		t.Errorf("UnixPeer(closed) = %+v, nil; want an error", c)
	}
}

func unixPair() (a, b *net.UnixConn, err error) {
	dir, err := os.MkdirTemp("", "peer-unix-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, "s"), Net: "unix"})
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	a, err = net.DialUnix("unix", nil, ln.Addr().(*net.UnixAddr))
	if err != nil {
		return nil, nil, err
	}
	b, err = ln.AcceptUnix()
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	return a, b, nil
}
