package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// serveTLS accepts TLS connections on loopback with c.GetCertificate and
// writes "ok" on each one whose handshake succeeds.
func serveTLS(t *testing.T, c *CA) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: c.GetCertificate, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				if conn.(*tls.Conn).Handshake() == nil {
					io.WriteString(conn, "ok")
				}
			})
		}
	})
	return ln.Addr().String()
}

// TestTLSHandshake: a Go client that trusts only the CA reaches covered hosts
// and no other.
func TestTLSHandshake(t *testing.T) {
	c := newTestCA(t, "api.anthropic.com", "*.example.com")
	addr := serveTLS(t, c)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(c.CertPEM())

	tests := []struct {
		name, serverName string
		errHas           string
	}{
		{name: "exact host", serverName: "api.anthropic.com"},
		{name: "wildcard subdomain", serverName: "a.example.com"},
		{name: "upper case SNI", serverName: "A.Example.COM"},
		{name: "unbound host", serverName: "evil.example.org", errHas: "internal error"},
		{name: "wildcard base", serverName: "example.com", errHas: "internal error"},
		{name: "no SNI", serverName: "", errHas: "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &tls.Config{RootCAs: roots, ServerName: tt.serverName}
			if tt.serverName == "" {
				// Dialing an IP address sends no SNI; skip verification
				// so only the server's refusal can fail the handshake.
				cfg.InsecureSkipVerify = true
			}
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
			if tt.errHas != "" {
				if err == nil {
					conn.Close()
					t.Fatalf("Dial(%q) succeeded, want an error", tt.serverName)
				}
				if !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("Dial(%q) error = %v, want one containing %q", tt.serverName, err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("Dial(%q) error = %v", tt.serverName, err)
			}
			defer conn.Close()
			got, err := io.ReadAll(conn)
			if err != nil || string(got) != "ok" {
				t.Errorf("read = %q, %v; want \"ok\"", got, err)
			}
			want := strings.ToLower(tt.serverName)
			if names := conn.ConnectionState().PeerCertificates[0].DNSNames; !slices.Equal(names, []string{want}) {
				t.Errorf("leaf DNSNames = %q, want [%q]", names, want)
			}
		})
	}
}

func TestLeafRefuses(t *testing.T) {
	tests := []struct {
		hosts  []string
		host   string
		errHas string
	}{
		{[]string{"api.anthropic.com"}, "evil.example.org", "not a brokered host"},
		{[]string{"api.anthropic.com"}, "x.api.anthropic.com", "not a brokered host"},
		{[]string{"api.anthropic.com"}, "anthropic.com", "not a brokered host"},
		{[]string{"*.example.com"}, "example.com", "not a brokered host"},
		{[]string{"*.example.com"}, "evilexample.com", "not a brokered host"},
		{[]string{"api.anthropic.com"}, "127.0.0.1", "IP address"},
		{[]string{"api.anthropic.com"}, "", "empty"},
		{[]string{"api.anthropic.com"}, "api.anthropic.com:443", "without scheme, port"},
	}
	for _, tt := range tests {
		c := newTestCA(t, tt.hosts...)
		if _, err := c.Leaf(tt.host); err == nil || !strings.Contains(err.Error(), tt.errHas) {
			t.Errorf("CA %q: Leaf(%q) error = %v, want one containing %q", tt.hosts, tt.host, err, tt.errHas)
		}
	}
}

func TestLeafCertificate(t *testing.T) {
	c := newTestCA(t, "*.example.com")
	before := time.Now()
	got, err := c.Leaf("A.example.com")
	if err != nil {
		t.Fatal(err)
	}
	leaf := got.Leaf
	if leaf == nil {
		t.Fatal("Leaf not set")
	}
	if len(got.Certificate) != 2 || string(got.Certificate[0]) != string(leaf.Raw) || string(got.Certificate[1]) != string(c.cert.Raw) {
		t.Errorf("chain has %d certificates, want the leaf then the CA", len(got.Certificate))
	}
	if !slices.Equal(leaf.DNSNames, []string{"a.example.com"}) || len(leaf.IPAddresses)+len(leaf.EmailAddresses)+len(leaf.URIs) != 0 {
		t.Errorf("SANs = %q %v %q %v, want exactly DNS a.example.com", leaf.DNSNames, leaf.IPAddresses, leaf.EmailAddresses, leaf.URIs)
	}
	if leaf.IsCA || !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("IsCA %v, ExtKeyUsage %v: want a server-auth leaf", leaf.IsCA, leaf.ExtKeyUsage)
	}
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d != leafValidity+leafBackdate {
		t.Errorf("validity = %v, want %v", d, leafValidity+leafBackdate)
	}
	if d := before.Sub(leaf.NotBefore); d < leafBackdate-time.Second || d > leafBackdate+2*time.Second {
		t.Errorf("NotBefore is %v before now, want %v", d, leafBackdate)
	}
	if key, ok := got.PrivateKey.(*ecdsa.PrivateKey); !ok || key.Curve != elliptic.P256() || !key.PublicKey.Equal(leaf.PublicKey) {
		t.Errorf("private key %T is not the leaf's P-256 key", got.PrivateKey)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(c.CertPEM())
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "a.example.com"}); err != nil {
		t.Errorf("Verify(a.example.com) error = %v", err)
	}
}

func TestLeafCached(t *testing.T) {
	c := newTestCA(t, "api.anthropic.com")
	var mints atomic.Int32
	c.onMint = func(string) { mints.Add(1) }
	first, err := c.Leaf("api.anthropic.com")
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Leaf("API.anthropic.com")
	if err != nil {
		t.Fatal(err)
	}
	if first != second || mints.Load() != 1 {
		t.Errorf("second Leaf: same pointer %v, %d mints; want the cached leaf, 1 mint", first == second, mints.Load())
	}
}

// TestLeafConcurrentMintOnce: handshakes that arrive together for one host
// share one mint.
func TestLeafConcurrentMintOnce(t *testing.T) {
	c := newTestCA(t, "api.anthropic.com")
	var mints atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	c.onMint = func(string) {
		if mints.Add(1) == 1 {
			close(started)
		}
		<-release
	}
	const n = 32
	results := make([]*tls.Certificate, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	wg.Go(func() { results[0], errs[0] = c.Leaf("api.anthropic.com") })
	<-started // the first mint is now in flight and cannot finish
	for i := 1; i < n; i++ {
		wg.Go(func() { results[i], errs[i] = c.Leaf("api.anthropic.com") })
	}
	// Let the others reach the in-flight entry. Were one late, it would
	// find the cached leaf instead: one mint either way.
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || results[i] != results[0] {
			t.Fatalf("caller %d: Leaf = %p, %v; want %p", i, results[i], errs[i], results[0])
		}
	}
	if got := mints.Load(); got != 1 {
		t.Errorf("%d concurrent Leaf calls minted %d times, want 1", n, got)
	}
}

func TestLeafRenewed(t *testing.T) {
	c := newTestCA(t, "api.anthropic.com")
	now := time.Now()
	c.now = func() time.Time { return now }
	first, err := c.Leaf("api.anthropic.com")
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(leafValidity - leafRenewBefore - time.Minute) // still more than an hour left
	if again, _ := c.Leaf("api.anthropic.com"); again != first {
		t.Error("leaf with more than an hour left was minted again")
	}
	now = now.Add(2 * time.Minute) // under an hour left
	renewed, err := c.Leaf("api.anthropic.com")
	if err != nil {
		t.Fatal(err)
	}
	if renewed == first || !renewed.Leaf.NotAfter.After(first.Leaf.NotAfter) {
		t.Error("leaf with under an hour left was not renewed")
	}
}

func TestLeafNotPastCA(t *testing.T) {
	c, err := New([]string{"api.anthropic.com"}, 3*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := c.Leaf("api.anthropic.com")
	if err != nil {
		t.Fatal(err)
	}
	if !leaf.Leaf.NotAfter.Equal(c.cert.NotAfter) {
		t.Errorf("leaf NotAfter = %v, want the CA's %v", leaf.Leaf.NotAfter, c.cert.NotAfter)
	}

	now := c.cert.NotAfter.Add(time.Minute)
	c.now = func() time.Time { return now }
	if _, err := c.Leaf("api.anthropic.com"); err == nil || !strings.Contains(err.Error(), "CA expired") {
		t.Errorf("Leaf after the CA expired: error = %v, want one saying so", err)
	}
	if len(c.leaves) != 0 {
		t.Errorf("a failed mint stayed cached: %d entries", len(c.leaves))
	}
	now = time.Now()
	if _, err := c.Leaf("api.anthropic.com"); err != nil {
		t.Errorf("Leaf after a failed mint: error = %v, want a fresh attempt", err)
	}
}

// TestLeafCacheBounded: an agent choosing endless subdomains of a wildcard
// cannot grow the cache without limit.
func TestLeafCacheBounded(t *testing.T) {
	c := newTestCA(t, "*.example.com")
	for i := range maxLeaves + 50 {
		if _, err := c.Leaf(fmt.Sprintf("h%d.example.com", i)); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.leaves) > maxLeaves {
		t.Errorf("cache holds %d leaves, want at most %d", len(c.leaves), maxLeaves)
	}
	// The cache still serves: the newest host is there.
	last := fmt.Sprintf("h%d.example.com", maxLeaves+49)
	if c.leaves[last] == nil {
		t.Errorf("newest leaf %s was evicted", last)
	}
}

func BenchmarkLeafCached(b *testing.B) {
	c := newTestCA(b, "api.anthropic.com")
	if _, err := c.Leaf("api.anthropic.com"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := c.Leaf("api.anthropic.com"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLeafCachedParallel(b *testing.B) {
	c := newTestCA(b, "api.anthropic.com")
	if _, err := c.Leaf("api.anthropic.com"); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Leaf("api.anthropic.com"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkLeafMint: the cost of a cache miss (key generation and signing).
func BenchmarkLeafMint(b *testing.B) {
	c := newTestCA(b, "api.anthropic.com")
	for b.Loop() {
		if _, err := c.mint("api.anthropic.com"); err != nil {
			b.Fatal(err)
		}
	}
}
