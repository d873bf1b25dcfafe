package proxy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/clemhq/clem/pipelock/internal/config"
	"github.com/clemhq/clem/shared/peer"
	"github.com/clemhq/clem/shared/testutil/netns"
)

// A probe that should pass gets long to answer (a loaded machine is
// slow); one that should fail by never being answered ends sooner, since
// how long it waits changes nothing about how it fails.
const (
	probeTimeout  = 10 * time.Second
	wedgedTimeout = 300 * time.Millisecond
)

// errUnanswered is how a probe that nothing answered fails.
const errUnanswered = "did not accept and identify"

func probeConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse("probe.toml", []byte("[listen]\nproxy = \"127.0.0.1:1\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func probeOnce(p *testProxy, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return p.srv.Probe(ctx, p.ln)
}

// TestProbe breaks each thing pipelock's health probe goes through and
// sees it fail, after the control (everything intact) passes.
func TestProbe(t *testing.T) {
	stuck := make(chan struct{})
	realLookup := func(local, remote netip.AddrPort) (uint32, error) {
		uid, _, err := peer.TCPPeerUIDAddr(local, remote)
		return uid, err
	}
	tests := []struct {
		name string
		// identify replaces sock_diag for the server; nil keeps the real one.
		identify func(t *testing.T) func(local, remote netip.AddrPort) (uint32, error)
		// breakIt breaks the running server.
		breakIt func(t *testing.T, p *testProxy)
		want    string // in the probe's error; "" = the probe passes
	}{
		{name: "control: listener serving, sock_diag working"},
		{
			name:    "listener closed",
			breakIt: func(t *testing.T, p *testProxy) { p.ln.Close() },
			want:    "connect to",
		},
		{
			// The old probe (a bare connect) passed here: an agent that
			// took the port after pipelock's listener died answered it.
			name: "port squatted after the listener died",
			breakIt: func(t *testing.T, p *testProxy) {
				p.ln.Close()
				sq, err := net.Listen("tcp", p.addr)
				if err != nil {
					t.Fatalf("squat %s: %v", p.addr, err)
				}
				t.Cleanup(func() { sq.Close() })
				go func() {
					for {
						c, err := sq.Accept()
						if err != nil {
							return
						}
						t.Cleanup(func() { c.Close() })
					}
				}()
			},
			want: errUnanswered,
		},
		{
			name: "sock_diag resolver closed",
			identify: func(t *testing.T) func(local, remote netip.AddrPort) (uint32, error) {
				r, err := peer.NewResolver()
				if err != nil {
					t.Fatal(err)
				}
				r.Close()
				return identifyWith(r)
			},
			want: "identity lookup (sock_diag)",
		},
		{
			name: "sock_diag looks in another network namespace",
			identify: func(t *testing.T) func(local, remote netip.AddrPort) (uint32, error) {
				var r *peer.Resolver
				netns.Run(t, func() {
					var err error
					if r, err = peer.NewResolver(); err != nil {
						t.Fatal(err)
					}
				})
				t.Cleanup(func() { r.Close() })
				return identifyWith(r)
			},
			want: "identity lookup (sock_diag)",
		},
		{
			name: "identity lookup names another uid",
			identify: func(t *testing.T) func(local, remote netip.AddrPort) (uint32, error) {
				return func(local, remote netip.AddrPort) (uint32, error) {
					uid, err := realLookup(local, remote)
					return uid + 1, err
				}
			},
			want: "not this daemon's uid",
		},
		{
			// A deadlock: the accept loop waits on the server's lock
			// forever. The probe fails when its ctx ends, not never.
			name: "server wedged on its lock",
			breakIt: func(t *testing.T, p *testProxy) {
				p.srv.mu.Lock()
				t.Cleanup(p.srv.mu.Unlock)
			},
			want: errUnanswered,
		},
		{
			name: "identity lookup stuck",
			identify: func(t *testing.T) func(local, remote netip.AddrPort) (uint32, error) {
				return func(local, remote netip.AddrPort) (uint32, error) {
					<-stuck
					return 0, errors.New("released")
				}
			},
			// Released before the server's shutdown, which waits for it.
			breakIt: func(t *testing.T, p *testProxy) { t.Cleanup(func() { stuck <- struct{}{} }) },
			want:    errUnanswered,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var o Options
			if tc.identify != nil {
				o.Identify = tc.identify(t)
			}
			p := serveTest(t, probeConfig(t), o, false)
			if tc.breakIt != nil {
				tc.breakIt(t, p)
			}
			timeout := probeTimeout
			if tc.want == errUnanswered {
				timeout = wedgedTimeout
			}
			err := probeOnce(p, timeout)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Probe() = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Probe() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestProbeNotAClient: the probe's connection is answered by the probe
// path, never as a client's: it gets no audit record and no slot under
// the connection caps, so a full cap cannot make pipelock look dead.
func TestProbeNotAClient(t *testing.T) {
	p := serveTest(t, probeConfig(t), Options{}, false)
	for range 3 {
		if err := probeOnce(p, probeTimeout); err != nil {
			t.Fatal(err)
		}
	}
	if lines := p.audit.lines(); len(lines) != 1 || lines[0] != "" {
		t.Errorf("probes left audit records: %q", lines)
	}
}
