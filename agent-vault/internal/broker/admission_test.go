package broker

import (
	"bufio"
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/clemhq/clem/agent-vault/internal/config"
	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/hostpattern"
)

// secondHost brokers other.example.com too, so a client can ask for its
// leaf by SNI inside a tunnel opened for example.com.
const secondHost = `[[binding]]
name = "other"
secret = "api_key"
hosts = ["other.example.com"]
auth = "bearer"
[[binding.placeholder]]
agent = "lead"
value = "__clem_lead_other_00112233445566778899__"
`

// TestHandOffRefusals pins, over the real socket, each way a trusted
// proxy's hand-off is refused before a tunnel is carried: the status the
// caller gets, and the reason and host of the audit record.
func TestHandOffRefusals(t *testing.T) {
	const lead = "Clem-Agent: lead\r\nClem-Agent-Uid: 4242\r\nClem-Conn-Id: pin-1\r\n"
	for _, tt := range []struct {
		name   string
		send   string // the hand-off bytes
		sni    string // when set: after a 200, a TLS handshake asking for it
		reason string
		host   string // the record's host
	}{
		{"not a CONNECT", "GET / HTTP/1.1\r\nHost: example.com\r\n" + lead + "\r\n", "", "expected a CONNECT request", ""},
		{"descriptor header without a descriptor", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n" + lead + "Clem-Fd: 1\r\n\r\n", "", "expected a CONNECT request", ""},
		{"no agent uid", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nClem-Agent: lead\r\n\r\n", "", "the proxy named no agent uid (Clem-Agent-Uid)", ""},
		{"agent uid not a number", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nClem-Agent: lead\r\nClem-Agent-Uid: -1\r\n\r\n", "", "the proxy named no agent uid (Clem-Agent-Uid)", ""},
		{"unknown agent", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nClem-Agent: stranger\r\nClem-Agent-Uid: 4242\r\n\r\n", "", `agent "stranger" holds no placeholder here`, ""},
		{"no agent", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nClem-Agent-Uid: 4242\r\n\r\n", "", `agent "" holds no placeholder here`, ""},
		{"target without port", "CONNECT example.com HTTP/1.1\r\nHost: example.com\r\n" + lead + "\r\n", "", "CONNECT target is not host:port", ""},
		{"empty port", "CONNECT example.com: HTTP/1.1\r\nHost: example.com\r\n" + lead + "\r\n", "", "CONNECT target is not host:port", ""},
		{"IP address", "CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1\r\n" + lead + "\r\n", "", "CONNECT host: an IP address is not a host name; name the host", ""},
		{"port 80", "CONNECT example.com:80 HTTP/1.1\r\nHost: example.com\r\n" + lead + "\r\n", "", "port 80: secrets are only ever sent to port 443", "example.com"},
		{"port out of range", "CONNECT example.com:99999 HTTP/1.1\r\nHost: example.com\r\n" + lead + "\r\n", "", "port 99999: secrets are only ever sent to port 443", "example.com"},
		{"port 8443", "CONNECT Example.COM.:8443 HTTP/1.1\r\nHost: example.com\r\n" + lead + "\r\n", "", "port 8443: secrets are only ever sent to port 443", "example.com"},
		{"unbrokered host", "CONNECT github.com:443 HTTP/1.1\r\nHost: github.com\r\n" + lead + "\r\n", "", "github.com is not a brokered host", "github.com"},
		{"bytes before the 200", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n" + lead + "\r\n\x16\x03\x01", "", "client sent data before the tunnel was established", "example.com"},
		{"SNI of another brokered host", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n" + lead + "\r\n", "other.example.com", `TLS SNI "other.example.com" does not match CONNECT host example.com`, "example.com"},
		{"canonical host, SNI of the same host", "CONNECT EXAMPLE.com.:443 HTTP/1.1\r\nHost: example.com\r\n" + lead + "\r\n", "", "", "example.com"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := startWith(t, true, "", secondHost, nil)
			c, err := net.Dial("unix", e.sock)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write([]byte(tt.send)); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
			if err != nil {
				t.Fatalf("answer: %v", err)
			}
			want := 403
			if tt.reason == "" || tt.sni != "" {
				want = 200
			}
			if resp.StatusCode != want {
				t.Fatalf("%q answered %s, want %d", tt.send, resp.Status, want)
			}
			if want == 200 {
				sni := tt.sni
				if sni == "" {
					sni = "example.com"
				}
				tc := tls.Client(c, &tls.Config{RootCAs: e.caPool, ServerName: sni})
				if err := tc.Handshake(); err != nil {
					t.Fatalf("handshake for %s: %v", sni, err)
				}
				tc.Close()
			}
			e.srv.Shutdown(t.Context())
			var got *audit.Record
			for _, l := range strings.Split(strings.TrimSpace(e.audit.String()), "\n") {
				if l == "" {
					continue
				}
				r, err := audit.Parse([]byte(l))
				if err != nil {
					t.Fatalf("audit line %q: %v", l, err)
				}
				if r.Event == "handoff" {
					got = &r
				}
			}
			if tt.reason == "" {
				if got != nil {
					t.Fatalf("an admitted tunnel was refused: %+v", *got)
				}
				return
			}
			if got == nil {
				t.Fatalf("no hand-off record; log:\n%s", e.audit.String())
			}
			if got.Decision != audit.Deny || got.Reason != tt.reason || got.Host != tt.host {
				t.Errorf("record = %s %q host %q, want deny %q host %q", got.Decision, got.Reason, got.Host, tt.reason, tt.host)
			}
			if tt.host != "" && (got.Agent != "lead" || got.UID == nil || *got.UID != agentUID || got.ConnID != "pin-1") {
				t.Errorf("record names %q uid %v conn %q, want the proxy's lead, %d, pin-1", got.Agent, got.UID, got.ConnID, agentUID)
			}
		})
	}
}

// TestDecideTunnel: every check of a tunnel's admission, without sockets.
func TestDecideTunnel(t *testing.T) {
	hosts, err := hostpattern.ParseList([]string{"example.com", "*.uploads.example.com", "other.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	// lead holds a binding for the first two hosts; only worker holds one
	// for other.example.com.
	cfg := &config.Config{Agents: map[string]bool{"lead": true, "worker": true}, HostList: hosts}
	cfg.File.Bindings = []config.Binding{
		{Name: "api", Hosts: []string{"example.com", "*.uploads.example.com"}, Placeholders: []config.Placeholder{{Agent: "lead"}, {Agent: "worker"}}},
		{Name: "other", Hosts: []string{"other.example.com"}, Placeholders: []config.Placeholder{{Agent: "worker"}}},
	}
	for _, tt := range []struct {
		name string
		in   Tunnel
		want Decision
	}{
		{"brokered host", Tunnel{Agent: "lead", Target: "example.com:443"},
			Decision{Allow: true, Reason: "example.com is brokered", Rule: RuleHost, Host: "example.com"}},
		{"wildcard host, canonicalised", Tunnel{Agent: "lead", Target: "A.Uploads.Example.COM.:443"},
			Decision{Allow: true, Reason: "a.uploads.example.com is brokered", Rule: RuleHost, Host: "a.uploads.example.com"}},
		{"unknown agent", Tunnel{Agent: "stranger", Target: "example.com:443"},
			Decision{Reason: `agent "stranger" holds no placeholder here`, Rule: RuleAgent}},
		{"no agent", Tunnel{Target: "example.com:443"},
			Decision{Reason: `agent "" holds no placeholder here`, Rule: RuleAgent}},
		{"unknown agent before a bad target", Tunnel{Agent: "stranger", Target: "nonsense"},
			Decision{Reason: `agent "stranger" holds no placeholder here`, Rule: RuleAgent}},
		{"no port", Tunnel{Agent: "lead", Target: "example.com"},
			Decision{Reason: "CONNECT target is not host:port", Rule: RuleTarget}},
		{"empty port", Tunnel{Agent: "lead", Target: "example.com:"},
			Decision{Reason: "CONNECT target is not host:port", Rule: RuleTarget}},
		{"named port", Tunnel{Agent: "lead", Target: "example.com:https"},
			Decision{Reason: "CONNECT target is not host:port", Rule: RuleTarget}},
		{"IP address", Tunnel{Agent: "lead", Target: "127.0.0.1:443"},
			Decision{Reason: "CONNECT host: an IP address is not a host name; name the host", Rule: RuleTarget}},
		{"IPv6 address", Tunnel{Agent: "lead", Target: "[::1]:443"},
			Decision{Reason: "CONNECT host: an IP address is not a host name; name the host", Rule: RuleTarget}},
		{"single label", Tunnel{Agent: "lead", Target: "localhost:443"},
			Decision{Reason: "CONNECT host: a single-label name is not a fully qualified host; write the full name, such as example.com", Rule: RuleTarget}},
		{"port 80", Tunnel{Agent: "lead", Target: "example.com:80"},
			Decision{Reason: "port 80: secrets are only ever sent to port 443", Rule: RulePort, Host: "example.com"}},
		{"port out of range", Tunnel{Agent: "lead", Target: "example.com:66979"},
			Decision{Reason: "port 66979: secrets are only ever sent to port 443", Rule: RulePort, Host: "example.com"}},
		{"bad port before an unbrokered host", Tunnel{Agent: "lead", Target: "github.com:8443"},
			Decision{Reason: "port 8443: secrets are only ever sent to port 443", Rule: RulePort, Host: "github.com"}},
		{"unbrokered host", Tunnel{Agent: "lead", Target: "github.com:443"},
			Decision{Reason: "github.com is not a brokered host", Rule: RuleHost, Host: "github.com"}},
		{"wildcard's base is not under it", Tunnel{Agent: "lead", Target: "uploads.example.com:443"},
			Decision{Reason: "uploads.example.com is not a brokered host", Rule: RuleHost, Host: "uploads.example.com"}},
		{"suffix is not a subdomain", Tunnel{Agent: "lead", Target: "evilexample.com:443"},
			Decision{Reason: "evilexample.com is not a brokered host", Rule: RuleHost, Host: "evilexample.com"}},
		{"another agent's brokered host", Tunnel{Agent: "lead", Target: "other.example.com:443"},
			Decision{Reason: `agent "lead" holds no binding for other.example.com`, Rule: RuleBinding, Host: "other.example.com"}},
		{"another agent's brokered host, SNI of it", Tunnel{Agent: "lead", Target: "other.example.com:443", Hello: true, SNI: "other.example.com"},
			Decision{Reason: `agent "lead" holds no binding for other.example.com`, Rule: RuleBinding, Host: "other.example.com"}},
		{"control: the host's own agent", Tunnel{Agent: "worker", Target: "other.example.com:443"},
			Decision{Allow: true, Reason: "other.example.com is brokered", Rule: RuleHost, Host: "other.example.com"}},
		{"SNI of the host", Tunnel{Agent: "lead", Target: "Example.com:443", Hello: true, SNI: "example.com"},
			Decision{Allow: true, Reason: "example.com is brokered and asked for by name", Rule: RuleSNI, Host: "example.com"}},
		{"SNI of another host", Tunnel{Agent: "lead", Target: "example.com:443", Hello: true, SNI: "a.uploads.example.com"},
			Decision{Reason: `TLS SNI "a.uploads.example.com" does not match CONNECT host example.com`, Rule: RuleSNI, Host: "example.com"}},
		{"no SNI", Tunnel{Agent: "lead", Target: "example.com:443", Hello: true},
			Decision{Reason: `TLS SNI "" does not match CONNECT host example.com`, Rule: RuleSNI, Host: "example.com"}},
		{"SNI not canonical", Tunnel{Agent: "lead", Target: "example.com:443", Hello: true, SNI: "EXAMPLE.com"},
			Decision{Reason: `TLS SNI "EXAMPLE.com" does not match CONNECT host example.com`, Rule: RuleSNI, Host: "example.com"}},
		{"SNI does not rescue a bad target", Tunnel{Agent: "lead", Target: "github.com:443", Hello: true, SNI: "github.com"},
			Decision{Reason: "github.com is not a brokered host", Rule: RuleHost, Host: "github.com"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := DecideTunnel(cfg, tt.in); got != tt.want {
				t.Errorf("DecideTunnel(%+v) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
	if d := (Decision{}); d.Allow {
		t.Error("the zero Decision allows")
	}
	if d := DecideTunnel(&config.Config{}, Tunnel{Agent: "lead", Target: "example.com:443"}); d.Allow {
		t.Errorf("an empty config allows: %+v", d)
	}
}
