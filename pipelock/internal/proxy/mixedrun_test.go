package proxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/clemhq/clem/pipelock/internal/config"
	"github.com/clemhq/clem/shared/audit"
)

// goneListener wraps every connection it accepts, so none is a
// *net.TCPConn: a brokered CONNECT arriving here is relayed through
// agent-vault, not handed over. A client whose request names a host that
// starts with "gone." leaves before its 200: the write of the 200 fails,
// as it does for a client that hung up while its tunnel was being set up
// (a real hang-up races the proxy's write, this one cannot).
type goneListener struct{ net.Listener }

func (l goneListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &goneConn{Conn: c}, nil
}

type goneConn struct {
	net.Conn
	mu   sync.Mutex // a tunnel reads and writes at once
	head []byte     // the first bytes the client sent
}

func (c *goneConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	if len(c.head) < 512 {
		c.head = append(c.head, p[:min(n, 512-len(c.head))]...)
	}
	c.mu.Unlock()
	return n, err
}

func (c *goneConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	gone := bytes.Contains(c.head, []byte(" gone."))
	c.mu.Unlock()
	if gone && bytes.HasPrefix(p, []byte("HTTP/1.1 200")) {
		c.Conn.Close()
		return 0, &net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE}
	}
	return c.Conn.Write(p)
}

// echoUpstream echoes what each connection sends until it closes.
func echoUpstream(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

// closedPort is a loopback address nothing listens on: a dial there fails.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// mixedProxy is one Server with the three ways in: the explicit proxy
// (addr), the explicit proxy behind goneListener (relayAddr) and the
// transparent listener (transAddr).
type mixedProxy struct {
	*testProxy
	relayAddr, transAddr string
}

// mixedCase is one connection of the mixed run and what it leaves: the
// status the client reads (0: none), and its final audit record.
type mixedCase struct {
	name     string
	target   string // the final record's target
	status   int
	decision audit.Decision
	reason   string // the final record's reason starts with this
	event    string
	run      func(t *testing.T, m *mixedProxy) int // returns the status the client read
}

// startMixed serves the mixed run's config: one client (this test's uid)
// allowed a TLS upstream, an echo upstream on 8443, a dead address, a
// plain-HTTP upstream and three hosts brokered through a fake agent-vault.
func startMixed(t *testing.T) *mixedProxy {
	t.Helper()
	tlsUp := tlsUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello "+r.URL.Path) }))
	webUp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "plain "+r.URL.Path) }))
	t.Cleanup(webUp.Close)
	echo, dead := echoUpstream(t), closedPort(t)
	v := startFakeVault(t) // three hand-offs fit in its headers channel, unread
	resolve := ""
	for _, r := range []struct {
		host string
		port int
		addr string
	}{
		{"tls.example.com", 443, tlsUp.Listener.Addr().String()},
		{"sni.example.com", 443, tlsUp.Listener.Addr().String()},
		{"after.example.com", 443, echo},
		{"after.example.com", 8443, echo},
		{"echo.example.com", 8443, echo},
		{"gone.example.com", 8443, echo},
		{"dead.example.com", 443, dead},
		{"web.example.com", 80, webUp.Listener.Addr().String()},
	} {
		resolve += fmt.Sprintf("[[resolve]]\nhost = %q\nport = %d\naddress = %q\n", r.host, r.port, r.addr)
	}
	src := fmt.Sprintf(`[listen]
proxy = "127.0.0.1:1"
[vault]
socket = %q
%s
[[client]]
name = "lead"
uids = [%d]
domains = ["*.example.com"]
ports = [443, 8443]
http_domains = ["web.example.com"]
brokered = ["api.example.com", "vault.example.com", "gone.vault.example.com"]
`, v.sock, resolve, me)
	cfg, err := config.Parse("mixed.toml", []byte(src))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, src)
	}
	p := serveTest(t, cfg, Options{}, false)
	m := &mixedProxy{testProxy: p}
	for _, l := range []struct {
		addr  *string
		serve func(net.Listener) error
		wrap  bool
	}{
		{&m.relayAddr, p.srv.Serve, true},
		{&m.transAddr, p.srv.ServeTransparent, false},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		*l.addr = ln.Addr().String()
		if l.wrap {
			ln = goneListener{ln}
		}
		go l.serve(ln)
	}
	return m
}

// connectAt sends a CONNECT for target to the proxy at addr and returns
// the connection, its reader and the status (0: closed unanswered).
func connectAt(t *testing.T, addr, target string) (net.Conn, *bufio.Reader, int) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		return c, br, 0
	}
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
	}
	return c, br, resp.StatusCode
}

// echoOnce sends a line through an open tunnel, reads it back and closes.
func echoOnce(t *testing.T, c net.Conn, br *bufio.Reader, want string) {
	t.Helper()
	fmt.Fprint(c, "ping\n")
	if got, err := br.ReadString('\n'); got != want {
		t.Errorf("through the tunnel: %q %v, want %q", got, err, want)
	}
	c.Close()
}

// mixedCases are the explicit and transparent exits a connection can take
// without root: allowed tunnels (TLS, raw, brokered handed over and
// relayed), refusals by policy, an SNI mismatch, clients that leave
// before and after the 200, a dial failure, plain HTTP allowed and
// refused, a bad request, and a transparent connection that was never
// redirected.
var mixedCases = []mixedCase{
	{"TLS tunnel", "tls.example.com:443", 200, audit.Allow, "allowed", EventClose, func(t *testing.T, m *mixedProxy) int {
		c, _, code := connectAt(t, m.addr, "tls.example.com:443")
		tc := tls.Client(c, &tls.Config{ServerName: "tls.example.com", InsecureSkipVerify: true})
		fmt.Fprint(tc, "GET /x HTTP/1.1\r\nHost: tls.example.com\r\nConnection: close\r\n\r\n")
		b, _ := io.ReadAll(tc)
		if !strings.HasSuffix(string(b), "hello /x") {
			t.Errorf("GET through the tunnel: %q", b)
		}
		c.Close()
		return code
	}},
	{"raw tunnel", "echo.example.com:8443", 200, audit.Allow, "allowed", EventClose, func(t *testing.T, m *mixedProxy) int {
		c, br, code := connectAt(t, m.addr, "echo.example.com:8443")
		echoOnce(t, c, br, "ping\n")
		return code
	}},
	{"refused by policy", "denied.test:443", 403, audit.Deny, "host denied.test is not on lead's allow-list", "", func(t *testing.T, m *mixedProxy) int {
		_, _, code := connectAt(t, m.addr, "denied.test:443")
		return code
	}},
	{"port refused by policy", "echo.example.com:22", 403, audit.Deny, "port 22 is not allowed for lead", "", func(t *testing.T, m *mixedProxy) int {
		_, _, code := connectAt(t, m.addr, "echo.example.com:22")
		return code
	}},
	{"SNI mismatch", "sni.example.com:443", 200, audit.Deny, `TLS SNI "other.example.com" does not match CONNECT host sni.example.com`, "", func(t *testing.T, m *mixedProxy) int {
		c, _, code := connectAt(t, m.addr, "sni.example.com:443")
		tls.Client(c, &tls.Config{ServerName: "other.example.com", InsecureSkipVerify: true}).Handshake()
		c.Close()
		return code
	}},
	{"gone before the 200", "gone.example.com:8443", 0, audit.Deny, "client went away", "", func(t *testing.T, m *mixedProxy) int {
		_, _, code := connectAt(t, m.relayAddr, "gone.example.com:8443")
		return code
	}},
	{"gone after the 200, SNI expected", "after.example.com:443", 200, audit.Deny, "no TLS ClientHello with SNI: read TLS record header: EOF", "", func(t *testing.T, m *mixedProxy) int {
		c, _, code := connectAt(t, m.addr, "after.example.com:443")
		c.Close()
		return code
	}},
	{"gone after the 200, raw", "after.example.com:8443", 200, audit.Allow, "allowed", EventClose, func(t *testing.T, m *mixedProxy) int {
		c, _, code := connectAt(t, m.addr, "after.example.com:8443")
		c.Close()
		return code
	}},
	{"dial failure", "dead.example.com:443", 502, audit.Deny, "dial dead.example.com:443: ", "", func(t *testing.T, m *mixedProxy) int {
		_, _, code := connectAt(t, m.addr, "dead.example.com:443")
		return code
	}},
	{"brokered, handed over", "api.example.com:443", 200, audit.Allow, "brokered through agent-vault (connection handed over)", EventHandover, func(t *testing.T, m *mixedProxy) int {
		c, br, code := connectAt(t, m.addr, "api.example.com:443")
		echoOnce(t, c, br, "vault heard: ping\n")
		return code
	}},
	{"brokered, relayed", "vault.example.com:443", 200, audit.Allow, "brokered through agent-vault", EventClose, func(t *testing.T, m *mixedProxy) int {
		c, br, code := connectAt(t, m.relayAddr, "vault.example.com:443")
		echoOnce(t, c, br, "ping\n")
		return code
	}},
	{"brokered, relayed, gone before the 200", "gone.vault.example.com:443", 0, audit.Deny, "client went away", "", func(t *testing.T, m *mixedProxy) int {
		_, _, code := connectAt(t, m.relayAddr, "gone.vault.example.com:443")
		return code
	}},
	{"plain HTTP", "web.example.com:80", 200, audit.Allow, "allowed: 200 OK", "", func(t *testing.T, m *mixedProxy) int {
		code, body := httpGet(t, m.addr, "http://web.example.com/p")
		if body != "plain /p" {
			t.Errorf("plain HTTP body = %q", body)
		}
		return code
	}},
	{"plain HTTP refused", "tls.example.com:80", 403, audit.Deny, "plain HTTP to tls.example.com is not allowed for lead", "", func(t *testing.T, m *mixedProxy) int {
		code, _ := httpGet(t, m.addr, "http://tls.example.com/")
		return code
	}},
	{"bad request", "nonsense", 400, audit.Deny, `CONNECT target "nonsense" is not host:port`, "", func(t *testing.T, m *mixedProxy) int {
		_, _, code := connectAt(t, m.addr, "nonsense")
		return code
	}},
	{"transparent, not redirected", "", 0, audit.Deny, "no original destination: ", "", func(t *testing.T, m *mixedProxy) int {
		c, err := net.Dial("tcp", m.transAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.Copy(io.Discard, c) // the proxy closes it
		return 0
	}},
}

// runMixed runs every mixed case against one proxy.
func runMixed(t *testing.T) *mixedProxy {
	m := startMixed(t)
	runCases(t, m, mixedCases)
	return m
}

// runCases runs cases one at a time, each until its final record is
// written, and checks what the client read and the record.
func runCases(t *testing.T, m *mixedProxy, cases []mixedCase) {
	t.Helper()
	for _, tc := range cases {
		if code := tc.run(t, m); code != tc.status {
			t.Errorf("%s: the client read %d, want %d", tc.name, code, tc.status)
		}
		r := m.recordWhere(tc.target, func(r audit.Record) bool {
			return r.Event != EventOpen && strings.HasPrefix(r.Reason, tc.reason)
		})
		if r.Decision != tc.decision || r.Event != tc.event || r.Client != "lead" && tc.target != "" {
			t.Errorf("%s: final record %s %q event %q client %q, want %s event %q client lead", tc.name, r.Decision, r.Reason, r.Event, r.Client, tc.decision, tc.event)
		}
	}
}

// TestMixedRunRecords pins what each exit of the mixed run answers and
// audits, so the tunnel path can be rebuilt under it.
func TestMixedRunRecords(t *testing.T) {
	m := runMixed(t)
	if n := len(finalRecords(t, m.audit)); n != len(mixedCases) {
		t.Errorf("%d final records for %d connections:\n%s", n, len(mixedCases), strings.Join(m.audit.lines(), "\n"))
	}
}

// finalRecords parses the audit lines written, leaving out tunnels' open
// records: one record per connection or plain-HTTP request.
func finalRecords(t *testing.T, b *syncBuffer) []audit.Record {
	t.Helper()
	var out []audit.Record
	for _, l := range b.lines() {
		if l == "" {
			continue
		}
		r, err := audit.Parse([]byte(l))
		if err != nil {
			t.Fatalf("audit line does not parse: %v\n%s", err, l)
		}
		if r.Event != EventOpen {
			out = append(out, r)
		}
	}
	return out
}

// TestMetricsAgreeWithAudit: after the mixed run, /metrics says what the
// audit log says: as many allowed and denied connections as final
// records of each decision, and the records' bytes summed.
func TestMetricsAgreeWithAudit(t *testing.T) {
	m := runMixed(t)
	agree(t, m.testProxy)
}

// agree checks p's Prometheus counters against the final records in its
// audit log.
func agree(t *testing.T, p *testProxy) {
	t.Helper()
	want := map[string]int64{}
	for _, r := range finalRecords(t, p.audit) {
		want[`pipelock_connections_total{decision="`+string(r.Decision)+`"}`]++
		want["pipelock_bytes_up_total"] += r.BytesUp
		want["pipelock_bytes_down_total"] += r.BytesDown
	}
	var b bytes.Buffer
	p.srv.Stats.WritePrometheus(&b)
	got := parseMetrics(t, b.String())
	for _, name := range []string{`pipelock_connections_total{decision="allow"}`, `pipelock_connections_total{decision="deny"}`, "pipelock_bytes_up_total", "pipelock_bytes_down_total"} {
		if want[name] == 0 {
			t.Errorf("the audit log has no %s: the run proves nothing about it", name)
		}
		if got[name] != want[name] {
			t.Errorf("/metrics %s = %d, the audit records say %d", name, got[name], want[name])
		}
	}
}

// parseMetrics reads Prometheus text: series (name and labels) to value.
func parseMetrics(t *testing.T, text string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, l := range strings.Split(text, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		var v int64
		if _, err := fmt.Sscan(l[i+1:], &v); i < 0 || err != nil {
			t.Fatalf("metrics line %q does not parse", l)
		}
		out[l[:i]] = v
	}
	return out
}
