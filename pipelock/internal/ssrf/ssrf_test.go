package ssrf

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestCanonical(t *testing.T) {
	tests := []struct {
		in, want string
		ip       bool
		bad      bool
	}{
		{in: "Example.COM.", want: "example.com"},
		{in: "bücher.example", want: "xn--bcher-kva.example"},
		{in: "127.0.0.1", want: "127.0.0.1", ip: true},
		{in: "0x7f.1", want: "127.0.0.1", ip: true},
		{in: "2130706433", want: "127.0.0.1", ip: true},
		{in: "0177.0.0.1", want: "127.0.0.1", ip: true},
		{in: "127.1", want: "127.0.0.1", ip: true},
		{in: "0x7f000001", want: "127.0.0.1", ip: true},
		{in: "169.254.169.254.", want: "169.254.169.254", ip: true},
		{in: "[::1]", want: "::1", ip: true},
		{in: "::ffff:127.0.0.1", want: "127.0.0.1", ip: true},
		{in: "[fd00:ec2::254]", want: "fd00:ec2::254", ip: true},
		{in: "256.1.1.1", bad: true},
		{in: "fe80::1%eth0", bad: true},
		{in: "a..b", bad: true},
	}
	for _, tt := range tests {
		got, ip, err := Canonical(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("Canonical(%q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want || ip != tt.ip {
			t.Errorf("Canonical(%q) = %q, %v, %v; want %q, %v", tt.in, got, ip, err, tt.want, tt.ip)
		}
	}
}

func TestClass(t *testing.T) {
	tests := map[string]string{
		"127.0.0.1":            "loopback",
		"127.255.0.9":          "loopback",
		"::1":                  "loopback",
		"10.1.2.3":             "private",
		"172.16.0.1":           "private",
		"192.168.1.1":          "private",
		"fd12::1":              "private",
		"169.254.169.254":      "cloud metadata",
		"fd00:ec2::254":        "cloud metadata",
		"169.254.1.1":          "link-local",
		"fe80::1":              "link-local",
		"100.64.0.1":           "CGNAT",
		"224.0.0.1":            "multicast",
		"ff02::1":              "multicast",
		"0.0.0.0":              "unspecified",
		"::":                   "unspecified",
		"::ffff:10.0.0.1":      "private",
		"64:ff9b::a00:1":       "private",
		"2002:7f00:1::":        "loopback",
		"8.8.8.8":              "",
		"2606:4700:4700::1111": "",
		"240.0.0.1":            "reserved",

		// IPv4-compatible (::/96): judged by the IPv4 inside.
		"::7f00:1":         "loopback",
		"::a9fe:a9fe":      "cloud metadata",
		"::a00:1":          "private",
		"::808:808":        "",
		"::2":              "unspecified",
		"::ffff:0:7f00:1":  "loopback", // SIIT IPv4-translated
		"::ffff:0:808:808": "",
		// NAT64, well-known and local-use (every RFC 6052 position in the /48).
		"64:ff9b::7f00:1":             "loopback",
		"64:ff9b::808:808":            "",
		"64:ff9b:1::7f00:1":           "loopback", // /96
		"64:ff9b:1:0:7f:0:100::":      "loopback", // /64: 127.0.0.1 in bytes 9-12
		"64:ff9b:1:7f00:0:1::":        "loopback", // /48: bytes 6,7 then 9,10
		"64:ff9b:1:7f:0:1::":          "loopback", // /56: byte 7 then 9-11
		"64:ff9b:1:a9fe:a9:fe00::":    "cloud metadata",
		"64:ff9b:1:808:8:800:808:808": "",
		// 6to4.
		"2002:a9fe:a9fe::1": "cloud metadata",
		"2002:808:808::1":   "",
		// Teredo: server in the clear, client inverted; either internal refuses.
		"2001:0:7f00:1::":                    "loopback", // server 127.0.0.1
		"2001:0:808:808::80ff:fefe":          "loopback", // client ^0x80fffefe = 127.0.1.1
		"2001:0:808:808:0:0:f7f7:f7f7":       "",         // client 8.8.8.8, server 8.8.8.8
		"2001:0:808:808:8000:ffff:f5ff:fffe": "private",  // client 10.0.0.1
		// Ranges with no IPv4 inside are refused whole.
		"fec0::1":              "site-local",
		"100::1":               "discard",
		"2001:db8::1":          "documentation",
		"3fff::1":              "documentation",
		"192.0.2.7":            "documentation",
		"2001:2::1":            "benchmarking",
		"192.88.99.1":          "reserved",
		"2001:4860:4860::8888": "",
	}
	for in, want := range tests {
		if got := Class(netip.MustParseAddr(in)); got != want {
			t.Errorf("Class(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestResolveRefusesAnyInternalAnswer(t *testing.T) {
	d := &Dialer{Resolver: StaticResolver{
		"public.example":  {"93.184.216.34"},
		"private.example": {"10.0.0.5"},
		"mixed.example":   {"93.184.216.34", "127.0.0.1"},
		"meta.example":    {"169.254.169.254"},
	}}
	ctx := context.Background()
	if a, err := d.Resolve(ctx, "public.example", nil); err != nil || len(a) != 1 {
		t.Errorf("public: %v %v", a, err)
	}
	for host, class := range map[string]string{"private.example": "private", "mixed.example": "loopback", "meta.example": "cloud metadata", "127.0.0.1": "loopback"} {
		_, err := d.Resolve(ctx, host, nil)
		if !errors.Is(err, ErrBlocked) || !strings.Contains(err.Error(), class) {
			t.Errorf("Resolve(%s) = %v, want a %s refusal", host, err, class)
		}
	}
	if _, err := d.Resolve(ctx, "private.example", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}); err != nil {
		t.Errorf("allowed range still refused: %v", err)
	}
	if _, err := d.Resolve(ctx, "nx.example", nil); err == nil || errors.Is(err, ErrBlocked) {
		t.Errorf("NXDOMAIN = %v, want a resolve error", err)
	}
}

func TestDialFallsBack(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dead, _ := net.Listen("tcp", "127.0.0.2:0")
	deadPort := dead.Addr().(*net.TCPAddr).Port
	dead.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	if deadPort != port {
		t.Log("ports differ; the first address is simply closed")
	}
	d := &Dialer{}
	c, ap, err := d.DialAddrs(context.Background(), WithPort([]netip.Addr{netip.MustParseAddr("127.0.0.3"), netip.MustParseAddr("127.0.0.1")}, port))
	if err != nil {
		t.Fatalf("DialAddrs: %v", err)
	}
	c.Close()
	if ap.Addr().String() != "127.0.0.1" {
		t.Errorf("dialed %s, want the second address", ap)
	}
}

func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"0x7f.1", "2130706433", "[::1]", "example.com.", "bücher.example", "1.2.3.4.5", "0x",
		"[::7f00:1]", "::ffff:0:7f00:1", "[64:ff9b:1::7f00:1]", "2001:0:7f00:1::", "[fec0::1]", "100::1", "[2001:db8::1]", "[2002:a9fe:a9fe::1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ip, err := Canonical(s)
		if err != nil {
			return
		}
		c2, ip2, err := Canonical(c)
		if err != nil || c2 != c || ip2 != ip {
			t.Fatalf("Canonical(%q) = %q, not a fixed point: %q %v", s, c, c2, err)
		}
		if ip {
			if _, err := netip.ParseAddr(c); err != nil {
				t.Fatalf("Canonical(%q) = %q claims IP but does not parse", s, c)
			}
		}
	})
}

// FuzzClass: an IPv6 address that carries an internal IPv4 address is never
// public, whatever the prefix, and the IPv4 spellings agree with the plain
// address.
func FuzzClass(f *testing.F) {
	for _, s := range []string{"::7f00:1", "64:ff9b:1::7f00:1", "2001:0:7f00:1::", "2002:a9fe:a9fe::1", "::ffff:0:a00:1", "2001:db8::1", "8.8.8.8", "127.0.0.1", "169.254.169.254"} {
		f.Add(netip.MustParseAddr(s).AsSlice())
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, ok := netip.AddrFromSlice(raw)
		if !ok {
			return
		}
		c := Class(a)
		if a.Is6() && !a.Is4In6() {
			for _, v4 := range embedded(a) {
				if Class(v4) != "" && c == "" {
					t.Fatalf("Class(%s) = public, but it carries %s (%s)", a, v4, Class(v4))
				}
			}
			return
		}
		v4 := a.Unmap()
		b := v4.As4()
		for _, spelled := range []string{"::ffff:" + v4.String(), "64:ff9b::" + v4.String(), "::" + v4.String()} {
			s := netip.MustParseAddr(spelled)
			if (Class(s) == "") != (Class(v4) == "") && !(spelled == "::"+v4.String() && b[0] == 0) {
				t.Fatalf("Class(%s) = %q but Class(%s) = %q", s, Class(s), v4, Class(v4))
			}
		}
	})
}
