package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/clemhq/clem/pipelock/internal/config"
)

func policyFrom(t *testing.T, client string) *config.Policy {
	t.Helper()
	c, err := config.Parse("t.toml", []byte("[listen]\nproxy = \"127.0.0.1:1\"\n[vault]\nsocket = \"/v\"\n[[client]]\nname = \"lead\"\nuids = [1]\n"+client))
	if err != nil {
		t.Fatal(err)
	}
	return c.ByUID[1]
}

func TestDecide(t *testing.T) {
	p := policyFrom(t, `domains = ["*.anthropic.com", "github.com"]
http_domains = ["deb.debian.org"]
brokered = ["api.anthropic.com"]
ip_ranges = ["203.0.113.0/24"]
`)
	tests := []struct {
		name     string
		r        Request
		allow    bool
		brokered bool
		has      string
	}{
		{"exact", Request{TLS, "github.com", 443}, true, false, "github.com"},
		{"wildcard", Request{TLS, "console.anthropic.com", 443}, true, false, "*.anthropic.com"},
		{"brokered", Request{TLS, "api.anthropic.com", 443}, true, true, "brokered api.anthropic.com"},
		{"apex not in wildcard", Request{TLS, "anthropic.com", 443}, false, false, "not on lead's allow-list"},
		{"subdomain not in exact", Request{TLS, "api.github.com", 443}, false, false, "allow-list"},
		{"port", Request{TLS, "github.com", 8443}, false, false, "port 8443"},
		{"http on https host", Request{PlainHTTP, "github.com", 80}, false, false, "plain HTTP to github.com"},
		{"http allowed", Request{PlainHTTP, "deb.debian.org", 80}, true, false, "http_domains"},
		{"http port", Request{PlainHTTP, "deb.debian.org", 8080}, false, false, "port 8080"},
		{"ip in range", Request{TLS, "203.0.113.9", 443}, true, false, "ip_ranges"},
		{"ip not in range", Request{TLS, "198.51.100.1", 443}, false, false, "IP address"},
	}
	for _, tt := range tests {
		d := Decide(p, tt.r)
		text := d.Reason + " " + d.Rule
		if d.Allow != tt.allow || d.Brokered != tt.brokered || !strings.Contains(text, tt.has) {
			t.Errorf("%s: Decide(%+v) = %+v, want allow=%v brokered=%v mentioning %q", tt.name, tt.r, d, tt.allow, tt.brokered, tt.has)
		}
	}
	if d := Decide(nil, Request{TLS, "github.com", 443}); d.Allow {
		t.Error("nil policy allowed")
	}
	if (Decision{}).Allow {
		t.Error("zero Decision allows")
	}
}

func TestLimits(t *testing.T) {
	p := policyFrom(t, "rate = 2\nburst = 2\nbudget_bytes = 100\nbudget_window = \"1m\"\n")
	l := NewLimits()
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	if !l.Admit(p).Allow || !l.Admit(p).Allow {
		t.Fatal("burst of 2 not admitted")
	}
	if d := l.Admit(p); d.Allow || !strings.Contains(d.Reason, "rate limit") {
		t.Fatalf("third connection = %+v, want rate limited", d)
	}
	now = now.Add(500 * time.Millisecond)
	if !l.Admit(p).Allow {
		t.Fatal("token not refilled after 0.5 s at 2/s")
	}
	l.Spend(p, 100)
	now = now.Add(10 * time.Second)
	if d := l.Admit(p); d.Allow || !strings.Contains(d.Reason, "byte budget") {
		t.Fatalf("after spending the budget = %+v", d)
	}
	now = now.Add(time.Minute)
	if !l.Admit(p).Allow {
		t.Fatal("budget not reset after its window")
	}
}
