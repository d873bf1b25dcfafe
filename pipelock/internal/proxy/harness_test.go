package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clemhq/clem/pipelock/internal/config"
	"github.com/clemhq/clem/pipelock/internal/ssrf"
	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/peer"
)

// syncBuffer collects audit lines from concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

type testProxy struct {
	t     *testing.T
	srv   *Server
	addr  string
	ln    net.Listener
	audit *syncBuffer
}

// me is this test's uid, which the kernel reports for our own sockets.
var me = uint32(os.Getuid())

// startProxy serves cfgTOML (with {{UID}} replaced by our uid) on a fresh
// loopback port, with real sock_diag identity.
func startProxy(t *testing.T, cfgTOML string, dns ssrf.StaticResolver) *testProxy {
	t.Helper()
	src := "[listen]\nproxy = \"127.0.0.1:1\"\n" + strings.ReplaceAll(cfgTOML, "{{UID}}", fmt.Sprint(me))
	cfg, err := config.Parse("test.toml", []byte(src))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, src)
	}
	var o Options
	if dns != nil {
		o.Resolver = dns
	}
	return serveTest(t, cfg, o, false)
}

// serveTest starts a Server for cfg on a fresh loopback port, made in the
// calling thread's network namespace, with audit records collected in
// memory; transparent picks the listener kind. It stops at test end.
func serveTest(t *testing.T, cfg *config.Config, o Options, transparent bool) *testProxy {
	t.Helper()
	buf := &syncBuffer{}
	o.Audit = audit.NewWriter(buf)
	srv := New(cfg, o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if transparent {
		go srv.ServeTransparent(ln)
	} else {
		go srv.Serve(ln)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return &testProxy{t: t, srv: srv, addr: ln.Addr().String(), ln: ln, audit: buf}
}

// identifyWith looks callers up through r, a resolver opened inside a
// test's network namespace.
func identifyWith(r *peer.Resolver) func(local, remote netip.AddrPort) (uint32, error) {
	return func(local, remote netip.AddrPort) (uint32, error) {
		uid, _, err := r.TCPPeerUIDAddr(local, remote)
		return uid, err
	}
}

// record waits for the final audit record whose target is target: a
// tunnel's close record, or the only record of anything else.
func (p *testProxy) record(target string) audit.Record {
	p.t.Helper()
	return p.recordWhere(target, func(r audit.Record) bool { return r.Event != EventOpen })
}

// recordWhere waits for the first audit record for target that match accepts.
func (p *testProxy) recordWhere(target string, match func(audit.Record) bool) audit.Record {
	p.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range p.audit.lines() {
			if l == "" {
				continue
			}
			r, err := audit.Parse([]byte(l))
			if err != nil {
				p.t.Fatalf("audit line does not parse: %v\n%s", err, l)
			}
			if r.Target == target && match(r) {
				return r
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.t.Fatalf("no audit record for %s; have:\n%s", target, strings.Join(p.audit.lines(), "\n"))
	return audit.Record{}
}

// connect sends a CONNECT and returns the connection and the status line.
func (p *testProxy) connect(target string) (net.Conn, *bufio.Reader, int, string) {
	p.t.Helper()
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		p.t.Fatalf("CONNECT %s: %v", target, err)
	}
	body := ""
	if resp.StatusCode != 200 {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		body = b.String()
	}
	return c, br, resp.StatusCode, body
}

// client is an HTTP client that uses the proxy and trusts upstream's cert.
func (p *testProxy) client(upstream *httptest.Server) *http.Client {
	pool := x509.NewCertPool()
	if upstream != nil && upstream.Certificate() != nil {
		pool.AddCert(upstream.Certificate())
	}
	u, _ := url.Parse("http://" + p.addr)
	return &http.Client{
		Transport:     &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
