package daemon

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// serveLoop runs an accept loop over ap as the MCP server's would, until
// the listener closes; the cleanup waits for it.
func serveLoop(t *testing.T, ap *acceptProbe) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ap.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ap.Close(); <-done })
}

// TestAcceptProbe: the MCP half of the probe passes only when the serving
// loop takes the probe's connection and the kernel names coord as its
// owner; a closed listener, a loop that stopped accepting (the kernel
// still completes the connect from its backlog) and a failing identity
// lookup each fail it, and the wedged loop fails it when ctx ends rather
// than hanging it.
func TestAcceptProbe(t *testing.T) {
	me := uint32(os.Geteuid())
	tests := []struct {
		name    string
		who     func(net.Conn) (uint32, error)
		serve   bool // an accept loop runs
		closeLn bool
		want    string // "" = passes
	}{
		{"serving (control)", func(net.Conn) (uint32, error) { return me, nil }, true, false, ""},
		{"listener closed", func(net.Conn) (uint32, error) { return me, nil }, false, true, "connect"},
		{"accept loop wedged", func(net.Conn) (uint32, error) { return me, nil }, false, false, "did not accept"},
		{"identity lookup fails", func(net.Conn) (uint32, error) { return 0, errors.New("sock_diag: no answer") }, true, false, "sock_diag: no answer"},
		{"someone else's connection", func(net.Conn) (uint32, error) { return me + 1, nil }, true, false, "not this daemon's uid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ap := newAcceptProbe(ln, tt.who)
			if tt.serve {
				serveLoop(t, ap)
			} else {
				t.Cleanup(func() { ln.Close() })
			}
			if tt.closeLn {
				ln.Close()
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			err = ap.probe(ctx)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("probe = %v, want it to pass", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("probe = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestAcceptProbeConnectionNeverServed: the probe's connection is taken
// out in Accept, so the server behind never sees it, while an ordinary
// connection passes through.
func TestAcceptProbeConnectionNeverServed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := newAcceptProbe(ln, func(net.Conn) (uint32, error) { return uint32(os.Geteuid()), nil })
	got := make(chan net.Conn, 2)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ap.Accept()
			if err != nil {
				return
			}
			got <- c
		}
	}()
	defer func() { ap.Close(); <-done }()
	if err := ap.probe(t.Context()); err != nil {
		t.Fatalf("probe: %v", err)
	}
	other, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	c := <-got
	defer c.Close()
	if c.RemoteAddr().String() != other.LocalAddr().String() {
		t.Fatalf("the server got %v first, want the ordinary connection from %v (the probe's must not reach it)", c.RemoteAddr(), other.LocalAddr())
	}
}
