// Package broker is agent-vault's data path: it accepts hand-offs from
// pipelock (or direct clients), identifies the caller from the kernel,
// terminates TLS with the name-constrained CA, swaps placeholders for real
// secrets where a binding allows it, forwards upstream over pooled HTTP/1.1
// or HTTP/2 connections and scrubs secrets from responses. Only agent-vault
// imports it.
package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clemhq/clem/agent-vault/internal/ca"
	"github.com/clemhq/clem/agent-vault/internal/config"
	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/connlimit"
)

// Server brokers connections with a config that can be swapped.
type Server struct {
	cfg   atomic.Pointer[config.Config]
	ca    atomic.Pointer[ca.CA]
	audit *audit.Writer
	tr    atomic.Pointer[http.Transport]
	proxy *httputil.ReverseProxy
	http  *http.Server
	tlsIn *chanListener

	conns  *connlimit.Limiter // tunnels, per agent uid and in total
	relays *relaySet          // WebSocket relays, which the HTTP server no longer tracks
	wsHeld *heldBytes         // bytes of unfinished WebSocket messages, per agent uid and in total
	reqs   *connlimit.Limiter // requests in flight, per agent uid and in total
	packs  *connlimit.Limiter // pushes whose pack is held and checked, per agent uid and in total
	flood  *floodLog
	stats  stats

	// self is agent-vault's own uid: a caller running as it can only be
	// agent-vault's health probe.
	self uint32
	// httpDone is closed when the HTTP server's Serve has returned.
	httpDone chan struct{}

	// IdentifyTCP names the uid owning a loopback TCP caller's socket.
	IdentifyTCP func(local, remote netip.AddrPort) (uint32, error)

	mu        sync.Mutex
	listeners []net.Listener
	closing   bool
	wg        sync.WaitGroup
}

// New builds a Server; call Serve for each listener.
func New(cfg *config.Config, authority *ca.CA, aw *audit.Writer) (*Server, error) {
	s := &Server{audit: aw, tlsIn: newChanListener(), relays: newRelaySet(), wsHeld: newHeldBytes(wsHeldPerAgent, wsHeldTotal), self: uint32(os.Getuid()), httpDone: make(chan struct{})}
	s.flood = newFloodLog(s.record)
	lim := cfg.Limits
	s.conns = connlimit.New(lim.ConnsPerAgent, lim.ConnsTotal)
	s.reqs = connlimit.New(lim.RequestsPerAgent, lim.RequestsTotal)
	s.packs = connlimit.New(packChecksPerAgent, packChecksTotal)
	s.cfg.Store(cfg)
	s.ca.Store(authority)
	tr, err := newTransport(cfg)
	if err != nil {
		return nil, err
	}
	s.tr.Store(tr)
	s.proxy = &httputil.ReverseProxy{
		Rewrite:   func(*httputil.ProxyRequest) {}, // the handler prepares the request
		Transport: roundTripper{s},
		// Zero: ReverseProxy still flushes every write of a streamed body
		// (unknown length, server-sent events); known-length bodies go out
		// in as few writes as possible.
		FlushInterval:  0,
		ModifyResponse: s.scrubResponse,
		BufferPool:     copyBuffers{},
		ErrorHandler:   s.upstreamError,
	}
	s.http = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: 30 * time.Second,
		MaxHeaderBytes:    cfg.Limits.MaxHeaderBytes,
		// HTTP/2 multiplexes requests on one tunnel: each counts against
		// the agent's request limit, and one tunnel holds at most this many.
		HTTP2:       &http.HTTP2Config{MaxConcurrentStreams: 100},
		IdleTimeout: 5 * time.Minute,
		ConnContext: connContext,
		ConnState:   connState,
		ErrorLog:    nil,
	}
	go func() {
		defer close(s.httpDone)
		s.http.Serve(s.tlsIn)
	}()
	return s, nil
}

// Reload swaps in a new config and CA.
func (s *Server) Reload(cfg *config.Config, authority *ca.CA) error {
	p, err := Prepare(cfg)
	if err != nil {
		return err
	}
	s.Apply(p, authority)
	return nil
}

// Prepared is a config with everything that can fail about putting it in
// force already done, so a reload can finish the steps that change state
// outside the process (a CA rotation on disk) only once nothing else can
// refuse it.
type Prepared struct {
	cfg *config.Config
	tr  *http.Transport
}

// Prepare builds what cfg needs to serve (its upstream transport).
func Prepare(cfg *config.Config) (*Prepared, error) {
	tr, err := newTransport(cfg)
	if err != nil {
		return nil, err
	}
	return &Prepared{cfg: cfg, tr: tr}, nil
}

// Discard releases a Prepared config that will not be applied.
func (p *Prepared) Discard() { p.tr.CloseIdleConnections() }

// Apply puts a prepared config and authority in force; it cannot fail.
func (s *Server) Apply(p *Prepared, authority *ca.CA) {
	cfg, tr := p.cfg, p.tr
	s.cfg.Store(cfg)
	s.ca.Store(authority)
	s.conns.SetLimits(cfg.Limits.ConnsPerAgent, cfg.Limits.ConnsTotal)
	s.reqs.SetLimits(cfg.Limits.RequestsPerAgent, cfg.Limits.RequestsTotal)
	if old := s.tr.Swap(tr); old != nil {
		old.CloseIdleConnections()
	}
}

// roundTripper sends through the transport in force.
type roundTripper struct{ s *Server }

func (r roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	return r.s.tr.Load().RoundTrip(req)
}

// newTransport pools upstream connections per host (the broker's speed
// depends on it), verifies upstream TLS against the system roots plus an
// optional extra CA, honours resolve overrides, and coalesces the TLS
// records it sends upstream into fewer system calls (see batchConn).
func newTransport(cfg *config.Config) (*http.Transport, error) {
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if p := cfg.File.Upstream.CAFile; p != "" {
		pem, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("upstream.ca_file: %w", err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("upstream.ca_file %s holds no PEM certificate", p)
		}
	}
	d := &net.Dialer{Timeout: cfg.Dial, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if ap, ok := cfg.Resolve[addr]; ok {
				addr = ap.String()
			}
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return newBatchConn(c), nil
		},
		TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		// HTTP/1.1 by default: pooled HTTP/1.1 moved a 100 MiB upload at
		// 0.62 of direct against 0.39 over HTTP/2 (flow control) in the
		// bench; [upstream] http2 = true opts in.
		ForceAttemptHTTP2:   cfg.File.Upstream.HTTP2,
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		DisableCompression:  true,
		// Large buffers: request bodies are copied through the transport's
		// bufio.Writer, which otherwise cuts them into 4 KiB TLS records
		// and one write each.
		WriteBufferSize: 64 << 10,
		ReadBufferSize:  64 << 10,
	}, nil
}

// Serve accepts hand-offs on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.listeners = append(s.listeners, ln)
	s.mu.Unlock()
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handoff(c)
		}()
	}
}

// Shutdown stops accepting and waits for requests in flight until ctx
// ends, then closes those still open. WebSocket relays, which the HTTP
// server does not wait for, are ended at once with 1001 going away to both
// sides (those a handshake in flight starts too), each recorded, and
// waited for. It returns once the server's goroutines have ended.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for _, ln := range s.listeners {
		ln.Close()
	}
	s.mu.Unlock()
	s.relays.goAway()
	err := s.http.Shutdown(ctx)
	if err != nil {
		s.http.Close() // the drain's time is up: cut what is left
	}
	// After the drain: a handshake in flight has by now either ended or
	// become a relay, which goAway ends.
	if rerr := s.relays.wait(ctx); err == nil {
		err = rerr
	}
	<-s.httpDone
	s.wg.Wait()
	s.tr.Load().CloseIdleConnections()
	s.flood.flush()
	return err
}

// copyBuffers recycles ReverseProxy's copy buffers; without a pool it
// allocates 32 KiB for every response.
type copyBuffers struct{}

var copyBufPool = sync.Pool{New: func() any { return make([]byte, 32<<10) }}

func (copyBuffers) Get() []byte  { return copyBufPool.Get().([]byte) }
func (copyBuffers) Put(b []byte) { copyBufPool.Put(b) }
