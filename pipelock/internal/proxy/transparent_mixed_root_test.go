package proxy

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/clemhq/clem/pipelock/internal/config"
	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/peer"
	"github.com/clemhq/clem/shared/testutil/netns"
)

// transparentCases are the exits of a redirected connection: an allowed
// TLS tunnel, a host off the list, a brokered host, a dial failure, plain
// HTTP on the redirected port and a client that sends nothing. Each dials
// 127.0.0.2:443 itself, which the redirect rule sends to the transparent
// listener.
var transparentCases = []mixedCase{
	{"TLS tunnel", "tls.example.com:443", 0, audit.Allow, "allowed", EventClose, func(t *testing.T, m *mixedProxy) int {
		tc := tls.Client(dialRedirected(t), &tls.Config{ServerName: "tls.example.com", InsecureSkipVerify: true})
		defer tc.Close()
		fmt.Fprint(tc, "GET /x HTTP/1.1\r\nHost: tls.example.com\r\nConnection: close\r\n\r\n")
		b, _ := io.ReadAll(tc)
		if !strings.HasSuffix(string(b), "hello /x") {
			t.Errorf("GET through the redirect: %q", b)
		}
		return 0
	}},
	{"refused by policy", "denied.test:443", 0, audit.Deny, "host denied.test is not on lead's allow-list", "", handshakeAs("denied.test")},
	{"brokered", "api.example.com:443", 0, audit.Deny, "brokered hosts need the explicit proxy (HTTPS_PROXY)", "", handshakeAs("api.example.com")},
	{"dial failure", "dead.example.com:443", 0, audit.Deny, "dial dead.example.com:443: ", "", handshakeAs("dead.example.com")},
	{"plain HTTP", "web.example.com:443", 200, audit.Allow, "allowed: 200 OK", "", func(t *testing.T, m *mixedProxy) int {
		c := dialRedirected(t)
		defer c.Close()
		fmt.Fprint(c, "GET /p HTTP/1.1\r\nHost: web.example.com\r\nConnection: close\r\n\r\n")
		b, _ := io.ReadAll(c)
		head, body, _ := strings.Cut(string(b), "\r\n\r\n")
		var code int
		fmt.Sscanf(head, "HTTP/1.1 %d", &code)
		if body != "plain /p" {
			t.Errorf("plain HTTP body = %q", body)
		}
		return code
	}},
	{"sent nothing", "", 0, audit.Deny, "client sent nothing", "", func(t *testing.T, m *mixedProxy) int {
		c := dialRedirected(t)
		defer c.Close()
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, c)
		return 0
	}},
}

// dialRedirected connects to 127.0.0.2:443 from the calling thread's
// namespace, where the redirect rule sends it to the transparent listener.
func dialRedirected(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", "127.0.0.2:443")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// handshakeAs starts a TLS handshake naming host, which the proxy is to
// refuse by cutting the connection.
func handshakeAs(host string) func(t *testing.T, m *mixedProxy) int {
	return func(t *testing.T, m *mixedProxy) int {
		c := dialRedirected(t)
		defer c.Close()
		if err := tls.Client(c, &tls.Config{ServerName: host, InsecureSkipVerify: true}).Handshake(); err == nil {
			t.Errorf("TLS to %s through the redirect completed, want it cut", host)
		}
		return 0
	}
}

// TestTransparentMixedRun: in a fresh network namespace, this test's own
// connections to port 443 are redirected by a real nftables rule to the
// transparent listener; each exit a redirected connection can take
// leaves the record it should, and /metrics agrees with the audit log.
func TestTransparentMixedRun(t *testing.T) {
	tlsUp := tlsUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello "+r.URL.Path) }))
	webUp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "plain "+r.URL.Path) }))
	t.Cleanup(webUp.Close)
	dead := closedPort(t)
	netns.Run(t, func() {
		res, err := peer.NewResolver()
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		src := fmt.Sprintf(`[listen]
proxy = "127.0.0.1:1"
[vault]
socket = "/nonexistent/vault.sock" # never dialed: a redirected brokered host is refused
[[resolve]]
host = "tls.example.com"
port = 443
address = %q
[[resolve]]
host = "dead.example.com"
port = 443
address = %q
[[resolve]]
host = "web.example.com"
port = 443
address = %q
[[client]]
name = "lead"
uids = [%d]
domains = ["*.example.com"]
http_domains = ["web.example.com"]
http_ports = [443]
brokered = ["api.example.com"]
`, tlsUp.Listener.Addr(), dead, webUp.Listener.Addr(), me)
		cfg, err := config.Parse("transparent.toml", []byte(src))
		if err != nil {
			t.Fatalf("config: %v\n%s", err, src)
		}
		p := serveTest(t, cfg, Options{Identify: identifyWith(res)}, true)
		redirectUser(t, me, uint16(netip.MustParseAddrPort(p.addr).Port()))
		m := &mixedProxy{testProxy: p, transAddr: p.addr}
		runCases(t, m, transparentCases)
		if n := len(finalRecords(t, p.audit)); n != len(transparentCases) {
			t.Errorf("%d final records for %d connections:\n%s", n, len(transparentCases), strings.Join(p.audit.lines(), "\n"))
		}
		agree(t, p)
	})
}
