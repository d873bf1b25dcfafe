package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const good = `
[listen]
proxy = "127.0.0.1:3128"
admin = "/run/pipelock/admin.sock"

[[resolve]]
host = "api.anthropic.com"
port = 443
address = "127.0.0.1:8443"

[[client]]
name = "lead"
uids = [1001, 1002]
domains = ["*.anthropic.com", "GitHub.com."]
rate = 5

[vault]
socket = "/run/agent-vault/broker.sock"

[[client]]
name = "worker"
uids = [1003]
brokered = ["api.anthropic.com"]
`

func TestParseGood(t *testing.T) {
	c, err := Parse("p.toml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	lead := c.ByUID[1002]
	if lead == nil || lead.Name != "lead" || lead.Domains[1].String() != "github.com" || !lead.Ports[443] || lead.Burst != 5 {
		t.Errorf("lead policy = %+v", lead)
	}
	if c.PolicyFor(1003, true).Name != "worker" || c.PolicyFor(1003, false) != c.Default || c.PolicyFor(9, true) != c.Default {
		t.Error("PolicyFor maps uids wrongly")
	}
	if ap := c.Resolve["api.anthropic.com:443"]; ap.String() != "127.0.0.1:8443" {
		t.Errorf("resolve = %v", ap)
	}
	if !c.SNI || c.Dial.Seconds() != 10 {
		t.Errorf("defaults: sni %v dial %v", c.SNI, c.Dial)
	}
	if c.ConnsPerUID != DefaultMaxConnsPerUID || c.ConnsTotal != DefaultMaxConns || c.HeaderTimeout != DefaultHeaderTimeout ||
		c.MaxHeaderBytes != DefaultMaxHeaderBytes || c.FloodRecords != DefaultFloodRecords || c.FloodWindow != DefaultFloodWindow {
		t.Errorf("limit defaults: %+v", c)
	}
}

func TestParseLimits(t *testing.T) {
	c, err := Parse("p.toml", []byte("[listen]\nproxy = \"127.0.0.1:1\"\n[limits]\nmax_conns_per_uid = 8\nmax_conns = 100\nheader_timeout = \"3s\"\nmax_header_bytes = 4096\n[audit]\nflood_records = 50\nflood_window = \"10s\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.ConnsPerUID != 8 || c.ConnsTotal != 100 || c.HeaderTimeout.Seconds() != 3 || c.MaxHeaderBytes != 4096 || c.FloodRecords != 50 || c.FloodWindow.Seconds() != 10 {
		t.Errorf("limits = %+v", c)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"no proxy", "[listen]\n", "listen.proxy is required"},
		{"public listen", "[listen]\nproxy = \"0.0.0.0:3128\"\n", "not a loopback address"},
		{"unknown key", "[listen]\nproxy = \"127.0.0.1:1\"\n[[client]]\nname = \"a\"\nuids = [1]\ndomain = [\"x.com\"]\n", `p.toml:6: unknown key "client.domain"`},
		{"bad pattern", "[listen]\nproxy = \"127.0.0.1:1\"\n[[client]]\nname = \"a\"\nuids = [1]\ndomains = [\"*.com\"]\n", "public suffix"},
		{"dup uid", "[listen]\nproxy = \"127.0.0.1:1\"\n[[client]]\nname = \"a\"\nuids = [1]\n[[client]]\nname = \"b\"\nuids = [1]\n", "uid 1 already belongs to client a"},
		{"no uids", "[listen]\nproxy = \"127.0.0.1:1\"\n[[client]]\nname = \"a\"\n", "uids is empty"},
		{"brokered without vault", "[listen]\nproxy = \"127.0.0.1:1\"\n[[client]]\nname = \"a\"\nuids = [1]\nbrokered = [\"api.x.com\"]\n", "vault.socket is not set"},
		{"bad cidr", "[listen]\nproxy = \"127.0.0.1:1\"\n[default]\nallow_ranges = [\"10.0.0.0/33\"]\n", "not a CIDR"},
		{"bad port", "[listen]\nproxy = \"127.0.0.1:1\"\n[default]\nports = [0]\n", "not a TCP port"},
		{"bad sni", "[listen]\nproxy = \"127.0.0.1:1\"\n[upstream]\nsni = \"maybe\"\n", "want require or off"},
		{"bad duration", "[listen]\nproxy = \"127.0.0.1:1\"\n[upstream]\ndial_timeout = \"soon\"\n", "not a duration"},
		{"syntax", "[listen\n", "p.toml:2"},
		{"negative cap", "[listen]\nproxy = \"127.0.0.1:1\"\n[limits]\nmax_conns_per_uid = -1\n", "must not be negative"},
		{"per-uid above total", "[listen]\nproxy = \"127.0.0.1:1\"\n[limits]\nmax_conns_per_uid = 10\nmax_conns = 5\n", "one caller could take every connection"},
		{"tiny headers", "[listen]\nproxy = \"127.0.0.1:1\"\n[limits]\nmax_header_bytes = 10\n", "too small"},
		{"negative window", "[listen]\nproxy = \"127.0.0.1:1\"\n[audit]\nflood_window = \"-1s\"\n", "not a duration"},
	}
	for _, tt := range tests {
		_, err := Parse("p.toml", []byte(tt.src))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Parse = %v, want error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestLoadFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pipelock.toml")
	if err := os.WriteFile(p, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p + ".missing"); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("[listen]\nproxy = \"127.0.0.1:1\"\n[default]\nip_ranges = [\"::/0\"]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse("f.toml", b)
		if err != nil {
			return
		}
		if c.Default == nil || c.File.Listen.Proxy == "" {
			t.Fatalf("accepted config without default policy or proxy address")
		}
		for uid, p := range c.ByUID {
			if p == nil || p.Name == "" {
				t.Fatalf("uid %d maps to %v", uid, p)
			}
		}
	})
}
