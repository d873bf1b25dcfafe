package proxy

import (
	"bufio"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/clemhq/clem/pipelock/internal/ssrf"
	"github.com/clemhq/clem/shared/audit"
)

// httptest's certificate is for example.com, so example.com is pinned to the
// local upstream with a resolve override.
func tlsUpstream(t *testing.T, h http.Handler) *httptest.Server {
	s := httptest.NewTLSServer(h)
	t.Cleanup(s.Close)
	return s
}

func override(host string, port int, s *httptest.Server) string {
	return fmt.Sprintf("[[resolve]]\nhost = %q\nport = %d\naddress = %q\n", host, port, s.Listener.Addr().String())
}

func TestConnectAllowedAndAudited(t *testing.T) {
	up := tlsUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello "+r.URL.Path) }))
	p := startProxy(t, override("example.com", 443, up)+`
[[client]]
name = "lead"
uids = [{{UID}}]
domains = ["example.com"]
`, nil)
	cl := p.client(up)
	resp, err := cl.Get("https://example.com/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hello /x" {
		t.Fatalf("body = %q", b)
	}
	// The tunnel is still open (keep-alive): its open record is already
	// written, so a crash now would not lose it.
	o := p.recordWhere("example.com:443", func(r audit.Record) bool { return r.Event == EventOpen })
	if o.Decision != audit.Allow || o.Client != "lead" || o.UID == nil || *o.UID != me || o.SNI != "example.com" ||
		o.Dialed != up.Listener.Addr().String() || o.BytesUp != 0 || o.Method != "CONNECT" || o.ConnID == "" {
		t.Errorf("open record = %+v", o)
	}
	cl.Transport.(*http.Transport).CloseIdleConnections()
	r := p.record("example.com:443")
	if r.Event != EventClose || r.Decision != audit.Allow || r.Client != "lead" || r.UID == nil || *r.UID != me || r.SNI != "example.com" ||
		r.Dialed != up.Listener.Addr().String() || r.BytesUp == 0 || r.BytesDown == 0 || r.Method != "CONNECT" || r.ConnID != o.ConnID {
		t.Errorf("close record = %+v (open record %s)", r, o.ConnID)
	}
}

func TestConnectDenials(t *testing.T) {
	up := tlsUpstream(t, http.NotFoundHandler())
	p := startProxy(t, override("example.com", 443, up)+override("example.com", 8443, up)+`
[[client]]
name = "lead"
uids = [{{UID}}]
domains = ["example.com", "*.allowed.test"]
ip_ranges = ["0.0.0.0/0", "::/0"]
`, ssrf.StaticResolver{
		"private.allowed.test": {"10.1.2.3"},
		"meta.allowed.test":    {"169.254.169.254"},
		"rebind.allowed.test":  {"93.184.216.34", "127.0.0.1"},
		"cgnat.allowed.test":   {"100.64.1.1"},
		"v6local.allowed.test": {"fe80::1"},
	})
	tests := []struct {
		target, record string
		status         int
		reason         string
	}{
		{"github.com:443", "github.com:443", 403, "not on lead's allow-list"},
		{"example.com:8443", "example.com:8443", 403, "port 8443 is not allowed"},
		{"example.com:22", "example.com:22", 403, "port 22"},
		{"private.allowed.test:443", "private.allowed.test:443", 403, "private address 10.1.2.3"},
		{"meta.allowed.test:443", "meta.allowed.test:443", 403, "cloud metadata"},
		{"rebind.allowed.test:443", "rebind.allowed.test:443", 403, "loopback"},
		{"cgnat.allowed.test:443", "cgnat.allowed.test:443", 403, "CGNAT"},
		{"v6local.allowed.test:443", "v6local.allowed.test:443", 403, "link-local"},
		{"127.0.0.1:443", "127.0.0.1:443", 403, "loopback"},
		{"0x7f.1:443", "127.0.0.1:443", 403, "loopback"},
		{"2130706433:443", "127.0.0.1:443", 403, "loopback"},
		{"0177.0.0.1:443", "127.0.0.1:443", 403, "loopback"},
		{"[::1]:443", "[::1]:443", 403, "loopback"},
		{"169.254.169.254:443", "169.254.169.254:443", 403, "cloud metadata"},
		{"[fd00:ec2::254]:443", "[fd00:ec2::254]:443", 403, "cloud metadata"},
		{"10.0.0.1:443", "10.0.0.1:443", 403, "private"},
		{"EXAMPLE.com.:22", "example.com:22", 403, "port 22"},
		{"nohost.allowed.test:443", "nohost.allowed.test:443", 502, "no such host"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			_, _, status, body := p.connect(tt.target)
			if status != tt.status || !strings.Contains(body, tt.reason) {
				t.Errorf("CONNECT %s = %d %q, want %d with %q", tt.target, status, body, tt.status, tt.reason)
			}
			r := p.record(tt.record)
			if r.Decision != audit.Deny || !strings.Contains(r.Reason, tt.reason) || r.Client != "lead" {
				t.Errorf("audit record = %+v", r)
			}
		})
	}
}

func TestSNIChecks(t *testing.T) {
	up := tlsUpstream(t, http.NotFoundHandler())
	p := startProxy(t, override("example.com", 443, up)+`
[[client]]
name = "lead"
uids = [{{UID}}]
domains = ["example.com"]
`, nil)
	for _, tc := range []struct{ sni, reason string }{
		{"evil.example.org", `TLS SNI "evil.example.org" does not match CONNECT host example.com`},
		{"", "has no SNI"},
	} {
		c, br, status, _ := p.connect("example.com:443")
		if status != 200 {
			t.Fatalf("CONNECT = %d", status)
		}
		tlsc := tls.Client(rwConn{c, br}, &tls.Config{ServerName: tc.sni, InsecureSkipVerify: true})
		tlsc.SetDeadline(time.Now().Add(3 * time.Second))
		if err := tlsc.Handshake(); err == nil {
			t.Errorf("SNI %q: handshake succeeded through a refused tunnel", tc.sni)
		}
		c.Close()
	}
	deadline := time.Now().Add(3 * time.Second)
	var denies []audit.Record
	for time.Now().Before(deadline) && len(denies) < 2 {
		denies = nil
		for _, l := range p.audit.lines() {
			if r, err := audit.Parse([]byte(l)); err == nil && r.Decision == audit.Deny {
				denies = append(denies, r)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(denies) != 2 || !strings.Contains(denies[0].Reason+denies[1].Reason, "does not match") || !strings.Contains(denies[0].Reason+denies[1].Reason, "no SNI") {
		t.Errorf("SNI refusals audited as %+v", denies)
	}
}

func TestUnknownCallerGetsDefault(t *testing.T) {
	up := tlsUpstream(t, http.NotFoundHandler())
	p := startProxy(t, override("example.com", 443, up)+`
[[client]]
name = "someone-else"
uids = [4294967294]
domains = ["example.com"]
`, nil)
	_, _, status, body := p.connect("example.com:443")
	if status != 403 {
		t.Fatalf("unknown caller: CONNECT = %d %q, want 403", status, body)
	}
	r := p.record("example.com:443")
	if r.Client != "unknown" || r.UID == nil || *r.UID != me || r.Decision != audit.Deny {
		t.Errorf("record = %+v", r)
	}
}

// TestHugeBodiesStreamIntact moves 256 MiB down a tunnel and 64 MiB each way
// through the plain-HTTP forwarder, comparing hashes.
func TestHugeBodiesStreamIntact(t *testing.T) {
	const down = 256 << 20
	data := func(n int64) io.Reader { return io.LimitReader(&pattern{}, n) }
	want := sha256.New()
	io.Copy(want, data(down))
	up := tlsUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(down))
		io.Copy(w, data(down))
	}))
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		w.Header().Set("X-Got", fmt.Sprintf("%d %x", n, h.Sum(nil)))
		io.Copy(w, data(64<<20)) // no Content-Length: chunked
	}))
	t.Cleanup(plain.Close)
	p := startProxy(t, override("example.com", 443, up)+override("plain.example.com", 80, plain)+`
[[client]]
name = "lead"
uids = [{{UID}}]
domains = ["example.com"]
http_domains = ["plain.example.com"]
`, nil)
	resp, err := p.client(up).Get("https://example.com/big")
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	n, err := io.Copy(got, resp.Body)
	resp.Body.Close()
	if err != nil || n != down || fmt.Sprintf("%x", got.Sum(nil)) != fmt.Sprintf("%x", want.Sum(nil)) {
		t.Fatalf("tunnel download: %d bytes, err %v, hash match %v", n, err, fmt.Sprintf("%x", got.Sum(nil)) == fmt.Sprintf("%x", want.Sum(nil)))
	}

	upHash := sha256.New()
	io.Copy(upHash, data(64<<20))
	req, _ := http.NewRequest("POST", "http://plain.example.com/up", data(64<<20))
	resp, err = p.client(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if g := resp.Header.Get("X-Got"); g != fmt.Sprintf("%d %x", 64<<20, upHash.Sum(nil)) {
		t.Errorf("upstream got %q", g)
	}
	got.Reset()
	n, err = io.Copy(got, resp.Body)
	resp.Body.Close()
	if err != nil || n != 64<<20 || fmt.Sprintf("%x", got.Sum(nil)) != fmt.Sprintf("%x", upHash.Sum(nil)) {
		t.Errorf("forward download: %d bytes, %v", n, err)
	}
}

// rwConn reads through the bufio.Reader that saw the CONNECT response.
type rwConn struct {
	net.Conn
	r *bufio.Reader
}

func (c rwConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// pattern is an endless, non-trivial byte stream, the same however it is read.
type pattern struct{ off int }

func (s *pattern) Read(p []byte) (int, error) {
	for i := range p {
		o := s.off + i
		p[i] = byte(o*7 + o>>9)
	}
	s.off += len(p)
	return len(p), nil
}

func TestForwardRedirectsKeepAliveAndDenials(t *testing.T) {
	hits := 0
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		if r.Header.Get("Proxy-Authorization") != "" || r.Header.Get("Proxy-Connection") != "" {
			t.Errorf("hop-by-hop proxy headers reached upstream: %v", r.Header)
		}
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "http://elsewhere.example.org/landing", http.StatusFound)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(plain.Close)
	p := startProxy(t, override("plain.example.com", 80, plain)+`
[[client]]
name = "lead"
uids = [{{UID}}]
domains = ["tls-only.example.com"]
http_domains = ["plain.example.com"]
`, nil)
	cl := p.client(nil)
	resp, err := cl.Get("http://plain.example.com/redirect")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "http://elsewhere.example.org/landing" || hits != 1 {
		t.Errorf("redirect: %d %q after %d upstream hits; want 302 passed through untouched", resp.StatusCode, resp.Header.Get("Location"), hits)
	}
	for i := 0; i < 3; i++ {
		resp, err := cl.Get("http://plain.example.com/again")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if p.srv.Stats.Active.Load() != 1 {
		t.Errorf("%d client connections for 4 keep-alive requests, want 1", p.srv.Stats.Active.Load())
	}
	resp, err = cl.Get("http://tls-only.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(b), "plain HTTP to tls-only.example.com is not allowed") {
		t.Errorf("plain HTTP to an HTTPS-only host: %d %q", resp.StatusCode, b)
	}
	if r := p.record("tls-only.example.com:80"); r.Decision != audit.Deny || r.Method != "GET" {
		t.Errorf("record = %+v", r)
	}
}
