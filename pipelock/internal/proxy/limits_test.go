package proxy

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/audit"
)

// TestHeaderLimits: a request whose headers do not finish within
// header_timeout (a slowloris) is answered 408 and audited; one whose
// headers are too large, 431. Complete requests on the same proxy are
// served (the control: the limits refuse only the slow and the huge).
func TestHeaderLimits(t *testing.T) {
	up := tlsUpstream(t, http.NotFoundHandler())
	p := startProxy(t, override("example.com", 443, up)+`
[limits]
header_timeout = "300ms"
max_header_bytes = 2048
[[client]]
name = "lead"
uids = [{{UID}}]
domains = ["example.com"]
`, nil)
	tests := []struct {
		name   string
		send   string
		status int
		rule   string
	}{
		{"complete request", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 200, ""},
		{"headers never end", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nX-Slow: 1\r\n", 408, RuleHeaderTimeout},
		{"headers too large", "CONNECT example.com:443 HTTP/1.1\r\nX-Big: " + strings.Repeat("b", 4096) + "\r\n\r\n", 431, RuleHeaderBytes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", p.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second)) // a bound for a broken proxy, not an assertion
			fmt.Fprint(c, tt.send)
			resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.rule == "" {
				return
			}
			r := p.recordWhere("", func(r audit.Record) bool { return r.Rule == tt.rule })
			if r.Decision != audit.Deny || r.Client != "lead" || r.UID == nil || *r.UID != me || r.ConnID != resp.Header.Get("X-Pipelock-Conn-Id") {
				t.Errorf("record = %+v", r)
			}
		})
	}
	if n := p.srv.Stats.HeaderTimeouts.Load(); n != 1 {
		t.Errorf("HeaderTimeouts = %d, want 1", n)
	}
}

// TestPerUIDCapAnswers503: past its cap a caller is answered 503 at once,
// before it sends a byte, and the refusal names the rule.
func TestPerUIDCapAnswers503(t *testing.T) {
	up := tlsUpstream(t, http.NotFoundHandler())
	p := startProxy(t, override("example.com", 443, up)+`
[upstream]
hello_timeout = "5m"
[limits]
max_conns_per_uid = 3
[[client]]
name = "lead"
uids = [{{UID}}]
domains = ["example.com"]
`, nil)
	for i := range 3 { // three open tunnels waiting for a ClientHello hold the cap
		if _, _, code, body := p.connect("example.com:443"); code != 200 {
			t.Fatalf("tunnel %d: %d %s", i, code, body)
		}
	}
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil) // no request sent
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("fourth connection: %v %v, want a 503 before any request", resp, err)
	}
	r := p.recordWhere("", func(r audit.Record) bool { return r.Rule == RuleConnsPerUID })
	if r.Decision != audit.Deny || !strings.Contains(r.Reason, "holds 3, its maximum") {
		t.Errorf("record = %+v", r)
	}
}
