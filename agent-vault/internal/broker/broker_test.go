package broker

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/clemhq/clem/agent-vault/internal/ca"
	"github.com/clemhq/clem/agent-vault/internal/config"
	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/handoff"
	"github.com/clemhq/clem/shared/tomlconf"
)

const (
	realKey = "sk-live-abc/def+ghi=jkl"
	phLead  = "__clem_lead_api_00112233445566778899__"
	phOther = "__clem_worker_api_99887766554433221100__"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type env struct {
	t      *testing.T
	sock   string
	caPool *x509.CertPool
	audit  *syncBuf
	srv    *Server
	h2     bool // offer h2 in ALPN (the client then must speak it)
}

// start runs a broker on a unix socket. trustMe makes this process's uid a
// trusted proxy; otherwise it is nobody the broker knows.
func start(t *testing.T, trustMe bool, bindingExtra string) *env {
	return startWith(t, trustMe, bindingExtra, "", nil)
}

// echoAuth answers with what arrived, so tests see exactly what upstream got.
var echoAuth = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "auth=%s q=%s", r.Header.Get("Authorization"), r.URL.RawQuery)
})

// startWith adds extra top-level TOML (e.g. a [[client]]) and an upstream
// handler (default echoAuth).
func startWith(t *testing.T, trustMe bool, bindingExtra, extra string, h http.Handler) *env {
	t.Helper()
	if h == nil {
		h = echoAuth
	}
	up := httptest.NewTLSServer(h)
	t.Cleanup(up.Close)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "api_key"), []byte(realKey), 0o600)
	upCA := filepath.Join(dir, "up.pem")
	os.WriteFile(upCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw}), 0o644)
	auth := `auth = "bearer"`
	if strings.Contains(bindingExtra, "auth =") {
		auth = ""
	}
	trust := "[]"
	if trustMe {
		trust = fmt.Sprintf("[%d]", os.Getuid())
	}
	src := fmt.Sprintf(`[listen]
socket = "/unused"
[trust]
proxy_uids = %s
[ca]
dir = %q
[secrets]
dir = %q
[upstream]
ca_file = %q
%s
[[resolve]]
host = "example.com"
port = 443
address = %q
[[binding]]
name = "api"
secret = "api_key"
hosts = ["example.com"]
%s
%s
[[binding.placeholder]]
agent = "lead"
value = %q
[[binding.placeholder]]
agent = "worker"
value = %q
`, trust, filepath.Join(dir, "ca"), dir, upCA, extra, up.Listener.Addr(), auth, bindingExtra, phLead, phOther)
	return serveConfig(t, dir, src)
}

// serveConfig compiles src (agent-vault's TOML), runs a broker with it on
// a unix socket in dir until the test ends, and returns its env.
func serveConfig(t *testing.T, dir, src string) *env {
	t.Helper()
	var f config.File
	if err := tomlconf.Decode("v.toml", []byte(src), &f); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Compile("v.toml", f)
	if err != nil {
		t.Fatal(err)
	}
	authority, _, err := ca.LoadOrCreate(cfg.File.CA.Dir, cfg.Hosts)
	if err != nil {
		t.Fatal(err)
	}
	buf := &syncBuf{}
	srv, err := New(cfg, authority, audit.NewWriter(buf))
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "b.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(t.Context()) })
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(authority.CertPEM())
	return &env{t: t, sock: sock, caPool: pool, audit: buf, srv: srv}
}

// handoff opens the socket and sends pipelock's CONNECT for agent.
func (e *env) handoff(target, agent string) (net.Conn, int, string) {
	return e.handoffAs(target, agent, agentUID)
}

// handoffAs is handoff naming uid as the agent's.
func (e *env) handoffAs(target, agent string, uid uint32) (net.Conn, int, string) {
	c, err := net.Dial("unix", e.sock)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	c.Write(handoff.Request{Target: target, Agent: agent, UID: uid, ConnID: "test-conn-1"}.Append(nil))
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
	if err != nil {
		e.t.Fatalf("hand-off: %v", err)
	}
	var b []byte
	if resp.StatusCode != 200 {
		b, _ = io.ReadAll(resp.Body)
	}
	return c, resp.StatusCode, string(b)
}

// client is an HTTP client that reaches the broker through one hand-off per
// connection, trusting only the broker CA (or nothing, with trust false).
func (e *env) client(agent string, trust bool) *http.Client {
	pool := e.caPool
	if !trust {
		pool = x509.NewCertPool()
	}
	return &http.Client{Transport: &http.Transport{
		DialTLSContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			c, status, body := e.handoff(addr, agent)
			if status != 200 {
				return nil, fmt.Errorf("hand-off refused: %d %s", status, body)
			}
			host, _, _ := net.SplitHostPort(addr)
			cfg := &tls.Config{RootCAs: pool, ServerName: host}
			if e.h2 {
				cfg.NextProtos = []string{"h2", "http/1.1"}
			}
			tc := tls.Client(c, cfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				return nil, err
			}
			return tc, nil
		},
	}}
}

func (e *env) get(agent, url string, hdr map[string]string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.client(agent, true).Do(req)
	if err != nil {
		e.t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestBrokeredBearerAndScrubbing(t *testing.T) {
	e := start(t, true, "")
	code, body := e.get("lead", "https://example.com/v1/x", map[string]string{"Authorization": "Bearer " + phLead})
	// Upstream saw the real key; the echo coming back is scrubbed to the
	// placeholder before the agent sees it.
	if code != 200 || body != "auth=Bearer "+phLead+" q=" {
		t.Fatalf("brokered GET = %d %q", code, body)
	}
	if strings.Contains(e.audit.String(), realKey) {
		t.Error("the audit log contains the secret")
	}
	if !strings.Contains(e.audit.String(), `"binding":"api"`) || !strings.Contains(e.audit.String(), `"conn_id":"test-conn-1"`) {
		t.Errorf("audit lacks binding or pipelock's conn id:\n%s", e.audit.String())
	}
}

func TestRefusals(t *testing.T) {
	e := start(t, true, `methods = ["GET"]
path_prefixes = ["/v1/"]`)
	tests := []struct {
		name, agent, url string
		hdr              map[string]string
		want             string
	}{
		{"other agent's placeholder", "lead", "https://example.com/v1/x", map[string]string{"Authorization": "Bearer " + phOther}, "worker"},
		{"path outside prefix", "lead", "https://example.com/oauth", map[string]string{"Authorization": "Bearer " + phLead}, "api"},
		{"dot-dot escape", "lead", "https://example.com/v1/../oauth", map[string]string{"Authorization": "Bearer " + phLead}, "api"},
		{"encoded dot-dot", "lead", "https://example.com/v1/%2e%2e/oauth", map[string]string{"Authorization": "Bearer " + phLead}, "api"},
	}
	for _, tt := range tests {
		code, body := e.get(tt.agent, tt.url, tt.hdr)
		if code != 403 || !strings.Contains(body, tt.want) || strings.Contains(body, realKey) {
			t.Errorf("%s: %d %q, want 403 naming %q", tt.name, code, body, tt.want)
		}
	}
	req, _ := http.NewRequest("POST", "https://example.com/v1/x", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+phLead)
	resp, err := e.client("lead", true).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("disallowed method: %d", resp.StatusCode)
	}
	for _, target := range []string{"example.com:80", "example.com:8443", "github.com:443"} {
		if _, code, body := e.handoff(target, "lead"); code != 403 {
			t.Errorf("CONNECT %s = %d %q, want 403", target, code, body)
		}
	}
	if _, code, _ := e.handoff("example.com:443", "stranger"); code != 403 {
		t.Errorf("unknown agent: %d", code)
	}
}

func TestClientWithoutTheCAFailsClosed(t *testing.T) {
	e := start(t, true, "")
	_, err := e.client("lead", false).Get("https://example.com/")
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a client that does not trust the CA got %v, want a certificate error", err)
	}
}

func TestUnknownPeerRefused(t *testing.T) {
	e := start(t, false, "")
	_, code, body := e.handoff("example.com:443", "lead")
	if code != 403 || !strings.Contains(body, fmt.Sprintf("unknown caller uid %d", os.Getuid())) {
		t.Fatalf("untrusted peer: %d %q", code, body)
	}
	if !strings.Contains(e.audit.String(), `"decision":"deny"`) {
		t.Errorf("refusal not audited: %s", e.audit.String())
	}
}

// TestHTTP2ToTheAgent: an agent that negotiates h2 in the tunnel is served.
func TestHTTP2ToTheAgent(t *testing.T) {
	e := start(t, true, "")
	e.h2 = true
	cl := e.client("lead", true)
	cl.Transport.(*http.Transport).ForceAttemptHTTP2 = true
	req, _ := http.NewRequest("GET", "https://example.com/v1/h2", nil)
	req.Header.Set("Authorization", "Bearer "+phLead)
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 || string(b) != "auth=Bearer "+phLead+" q=" {
		t.Fatalf("h2 request: %s %d %q", resp.Proto, resp.StatusCode, b)
	}
}

// TestDirectTCPClient: a standalone client over loopback TCP is identified
// by sock_diag and acts as its configured name, with no proxy in between.
func TestDirectTCPClient(t *testing.T) {
	e := startWith(t, false, "", fmt.Sprintf("[[client]]\nname = \"lead\"\nuids = [%d]\n", os.Getuid()), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go e.srv.Serve(ln)
	u, _ := url.Parse("http://" + ln.Addr().String())
	cl := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: e.caPool}}}
	req, _ := http.NewRequest("GET", "https://example.com/v1/tcp", nil)
	req.Header.Set("Authorization", "Bearer "+phLead)
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "auth=Bearer "+phLead+" q=" {
		t.Fatalf("direct TCP client: %d %q", resp.StatusCode, b)
	}
}
