package selfprobe

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/clemhq/clem/shared/peer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// server is a listener whose accept loop answers probes as a daemon's
// would: identify through the kernel, hand back the verdict; every other
// connection is "served" (counted).
type server struct {
	ln       net.Listener
	identify func(net.Conn) (uint32, error)
	served   chan net.Conn
	wg       sync.WaitGroup
}

func serve(t *testing.T, e *Expected, identify func(net.Conn) (uint32, error), accepting bool) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln, identify: identify, served: make(chan net.Conn, 10)}
	if accepting {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				if answer, ok := e.TakeConn(c); ok {
					answer(Owner(s.identify(c)))
					c.Close()
					continue
				}
				s.served <- c
			}
		}()
	}
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
		close(s.served)
		for c := range s.served {
			c.Close()
		}
	})
	return s
}

func kernel(c net.Conn) (uint32, error) { uid, _, err := peer.TCPPeerUID(c); return uid, err }

func ctx(t *testing.T, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return c
}

// TestProbe: the probe passes only through a live accept loop whose
// identity lookup names this process; each broken piece fails it, and the
// control (an intact server) passes.
func TestProbe(t *testing.T) {
	tests := []struct {
		name      string
		identify  func(net.Conn) (uint32, error)
		accepting bool
		closed    bool
		want      string // "" = passes
	}{
		{"intact", kernel, true, false, ""},
		{"accept loop wedged", kernel, false, false, "did not accept"},
		{"listener closed", kernel, true, true, "connect to"},
		{"identity lookup fails", func(net.Conn) (uint32, error) { return 0, errors.New("netlink: EPERM") }, true, false, "netlink: EPERM"},
		{"someone else's uid", func(net.Conn) (uint32, error) { return 4242, nil }, true, false, "named uid 4242"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Expected
			s := serve(t, &e, tt.identify, tt.accepting)
			target := AddrPort(s.ln.Addr())
			if tt.closed {
				s.ln.Close()
			}
			err := e.Dial(ctx(t, 2*time.Second), target)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("probe of an intact server: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("probe: %v, want an error with %q", err, tt.want)
			}
			if e.n.Load() != 0 {
				t.Fatalf("%d probes still registered after Dial returned", e.n.Load())
			}
		})
	}
}

// TestClientsAreNotProbes: an ordinary connection, even while a probe is
// in flight, is served, never taken for a probe.
func TestClientsAreNotProbes(t *testing.T) {
	var e Expected
	s := serve(t, &e, kernel, true)
	c, err := net.Dial("tcp", s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := e.Dial(ctx(t, 5*time.Second), AddrPort(s.ln.Addr())); err != nil {
		t.Fatalf("probe: %v", err)
	}
	select {
	case <-s.served:
	case <-time.After(10 * time.Second):
		t.Fatal("the client's connection was not served")
	}
	if _, ok := e.Take(AddrPort(c.LocalAddr())); ok {
		t.Fatal("a client's address was taken for a probe's")
	}
}
