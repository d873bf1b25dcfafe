package ca

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"
)

// TestCheck: a fresh CA passes its probe; the same CA a year and a day
// later fails it (its certificate has expired), and so does one whose
// clock is before its validity.
func TestCheck(t *testing.T) {
	for _, hosts := range [][]string{{"api.anthropic.com"}, {"*.example.com"}} {
		c, err := New(hosts, 365*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Check(); err != nil {
			t.Fatalf("Check() of a fresh CA for %v = %v, want nil", hosts, err)
		}
		for _, at := range []time.Time{time.Now().Add(366 * 24 * time.Hour), time.Now().Add(-48 * time.Hour)} {
			late, err := New(hosts, 365*24*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			late.now = func() time.Time { return at }
			if err := late.Check(); err == nil || !strings.Contains(err.Error(), "CA check") {
				t.Errorf("Check() at %v = %v, want a failure", at, err)
			}
		}
	}
}

// TestProbeTrust: the probe host of a CA's ca.pem is one its own leaf is
// minted and verified for; garbage or a certificate without agent-vault's
// name constraints is refused.
func TestProbeTrust(t *testing.T) {
	for _, hosts := range [][]string{{"api.anthropic.com"}, {"*.example.com", "api.example.org"}} {
		c, err := New(hosts, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		roots, host, err := ProbeTrust(c.CertPEM())
		if err != nil {
			t.Fatalf("ProbeTrust(CA for %v) = %v", hosts, err)
		}
		if want, _ := c.ProbeHost(); host != want {
			t.Errorf("ProbeTrust host = %q, want the CA's probe host %q", host, want)
		}
		leaf, err := c.Leaf(host)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := leaf.Leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots}); err != nil {
			t.Errorf("a leaf for the probe host %s does not verify against ProbeTrust's roots: %v", host, err)
		}
	}
	for name, pem := range map[string][]byte{
		"garbage":        []byte("not a certificate"),
		"no constraints": func() []byte { pem, _ := selfSigned(t, func(*x509.Certificate) {}); return pem }(),
	} {
		if _, _, err := ProbeTrust(pem); err == nil {
			t.Errorf("ProbeTrust(%s) succeeded", name)
		}
	}
}
