// Package proxy is pipelock's data path: the explicit proxy (CONNECT
// tunnels and absolute-form HTTP), the transparent listener, identity from
// the kernel, policy, the SSRF guard, the SNI check, the agent-vault
// hand-off and one audit record per connection. Only pipelock imports it.
package proxy

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clemhq/clem/pipelock/internal/config"
	"github.com/clemhq/clem/pipelock/internal/policy"
	"github.com/clemhq/clem/pipelock/internal/ssrf"
	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/connlimit"
	"github.com/clemhq/clem/shared/peer"
	"github.com/clemhq/clem/shared/selfprobe"
)

// Server serves one or more listeners with a config that can be swapped.
type Server struct {
	cfg      atomic.Pointer[config.Config]
	limits   *policy.Limits
	connCaps *connlimit.Limiter
	dialer   *ssrf.Dialer
	audit    *audit.Writer
	Stats    Stats
	identify func(local, remote netip.AddrPort) (uint32, error)
	probes   selfprobe.Expected
	// shut mirrors closing for the health probe, which must not wait on
	// mu: a wedged server holding it is one of the things the probe exists
	// to catch.
	shut atomic.Bool

	mu         sync.Mutex
	conns      map[net.Conn]struct{}
	listeners  []net.Listener
	transports map[string]*http.Transport
	closing    bool
	wg         sync.WaitGroup
}

// Options are the Server's collaborators; zero values pick the defaults.
type Options struct {
	Audit    *audit.Writer
	Resolver ssrf.Resolver
	// Identify returns the uid owning the caller's socket, the one connected
	// from remote to local (default: sock_diag in pipelock's namespace).
	Identify func(local, remote netip.AddrPort) (uint32, error)
}

// New returns a Server using cfg. It sets the audit Writer's flood limits
// from cfg too, so a reload changes them with the rest.
func New(cfg *config.Config, o Options) *Server {
	s := &Server{
		limits:     policy.NewLimits(),
		connCaps:   connlimit.New(capsFor(cfg)),
		dialer:     &ssrf.Dialer{Resolver: o.Resolver, Timeout: cfg.Dial},
		audit:      o.Audit,
		identify:   o.Identify,
		conns:      map[net.Conn]struct{}{},
		transports: map[string]*http.Transport{},
	}
	if s.identify == nil {
		s.identify = func(local, remote netip.AddrPort) (uint32, error) {
			uid, _, err := peer.TCPPeerUIDAddr(local, remote)
			return uid, err
		}
	}
	s.cfg.Store(cfg)
	if s.audit != nil {
		s.audit.LimitFloods(cfg.FloodRecords, cfg.FloodWindow)
	}
	return s
}

// Config returns the config in force.
func (s *Server) Config() *config.Config { return s.cfg.Load() }

// Reload swaps in cfg for new connections. Listen addresses only change on
// restart, so a config that moves them is refused and the old one stays.
func (s *Server) Reload(cfg *config.Config) error {
	old := s.cfg.Load()
	if cfg.File.Listen != old.File.Listen {
		return errors.New("listen addresses changed; they take effect on restart only, so the old config keeps serving")
	}
	s.dialer.Timeout = cfg.Dial
	s.connCaps.SetLimits(capsFor(cfg))
	if s.audit != nil {
		s.audit.LimitFloods(cfg.FloodRecords, cfg.FloodWindow)
	}
	s.cfg.Store(cfg)
	s.mu.Lock()
	for _, t := range s.transports {
		t.CloseIdleConnections()
	}
	s.transports = map[string]*http.Transport{}
	s.mu.Unlock()
	return nil
}

// Serve accepts explicit-proxy connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.serve(ln, s.handleExplicit) }

// ServeTransparent accepts connections redirected by nftables on ln.
func (s *Server) ServeTransparent(ln net.Listener) error { return s.serve(ln, s.handleTransparent) }

func (s *Server) serve(ln net.Listener, handle func(net.Conn)) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.listeners = append(s.listeners, ln)
	s.mu.Unlock()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.isClosing() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscallEMFILE) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if !s.track(c) {
			c.Close()
			continue
		}
		go func() {
			defer s.untrack(c)
			if s.answerProbe(c) {
				return
			}
			handle(c)
		}()
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.Stats.Active.Add(1)
	return true
}

func (s *Server) untrack(c net.Conn) {
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.Stats.Active.Add(-1)
	s.wg.Done()
}

// Shutdown stops accepting, lets open tunnels drain until ctx ends, then
// closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.shut.Store(true)
	for _, ln := range s.listeners {
		ln.Close()
	}
	for _, t := range s.transports {
		t.CloseIdleConnections()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// caller is who is on the other end, as the kernel says.
type caller struct {
	uid    uint32
	known  bool // the uid lookup succeeded
	policy *config.Policy
	name   string
	// lookupFailed: the kernel could not name the socket's owner (often a
	// caller that connected and left at once, like a health probe).
	lookupFailed bool
}

// identifyCaller names the caller of c. local is the address the caller's
// socket is connected to: c's own local address, or for a redirected
// connection the original destination, since the kernel keeps the caller's
// socket pointed there.
func (s *Server) identifyCaller(c net.Conn, local netip.AddrPort, cfg *config.Config) caller {
	remote, err := netip.ParseAddrPort(c.RemoteAddr().String())
	var uid uint32
	if err == nil {
		uid, err = s.identify(local, remote)
	}
	if err != nil {
		return caller{policy: cfg.Default, name: "unknown", lookupFailed: true}
	}
	if p, ok := cfg.ByUID[uid]; ok {
		return caller{uid: uid, known: true, policy: p, name: p.Name}
	}
	return caller{uid: uid, known: true, policy: cfg.Default, name: "unknown"}
}

// bufConn reads through a bufio.Reader that may hold bytes the client sent
// after its request line, and writes straight to the connection.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (b bufConn) Read(p []byte) (int, error) { return b.r.Read(p) }
