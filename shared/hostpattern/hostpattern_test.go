package hostpattern

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, want string
		errHas   string
	}{
		{in: "github.com", want: "github.com"},
		{in: "GitHub.COM.", want: "github.com"},
		{in: "*.anthropic.com", want: "*.anthropic.com"},
		{in: "bücher.example", want: "xn--bcher-kva.example"},
		{in: "*.co.uk", errHas: "public suffix"},
		{in: "*.com", errHas: "public suffix"},
		{in: "*.github.io", errHas: "public suffix"},
		{in: "*", errHas: "every host"},
		{in: "", errHas: "empty"},
		{in: "a.*.com", errHas: "first label"},
		{in: "*github.com", errHas: "first label"},
		{in: "github.com:443", errHas: "without scheme, port"},
		{in: "https://github.com", errHas: "without scheme"},
		{in: "10.0.0.1", errHas: "IP address"},
		{in: "::1", errHas: "IP address"},
		{in: "[::1]", errHas: "IP address"},
		{in: "localhost", errHas: "single-label"},
		{in: "-bad.com", errHas: "not a valid host name"},
		{in: "under_score.com", errHas: "not a valid host name"},
		{in: "1.2.3.4444", errHas: "IP address"},
	}
	for _, tt := range tests {
		p, err := Parse(tt.in)
		if tt.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("Parse(%q) error = %v, want one containing %q", tt.in, err, tt.errHas)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q) error = %v", tt.in, err)
			continue
		}
		if p.String() != tt.want {
			t.Errorf("Parse(%q) = %q, want %q", tt.in, p, tt.want)
		}
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, host string
		want          bool
	}{
		{"github.com", "github.com", true},
		{"github.com", "api.github.com", false},
		{"*.github.com", "api.github.com", true},
		{"*.github.com", "a.b.github.com", true},
		{"*.github.com", "github.com", false},
		{"*.github.com", "evilgithub.com", false},
		{"*.github.com", "github.com.evil.com", false},
	}
	for _, tt := range tests {
		p, err := Parse(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Match(tt.host); got != tt.want {
			t.Errorf("Parse(%q).Match(%q) = %v, want %v", tt.pattern, tt.host, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"github.com", "*.anthropic.com", "*.com", "bücher.example", "[::1]", "a..b", "*.*.x"} {
		f.Add(s, "api.github.com")
	}
	f.Fuzz(func(t *testing.T, s, host string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		// Canonical forms are stable and never match everything.
		q, err := Parse(p.String())
		if err != nil || q != p {
			t.Fatalf("Parse(%q) = %q, reparse = %q, %v", s, p, q, err)
		}
		if p.wildcard && p.Match(p.host) {
			t.Fatalf("%q matches its own apex", p)
		}
		if p.Match(host) && !p.wildcard && host != p.host {
			t.Fatalf("%q matched %q", p, host)
		}
	})
}
