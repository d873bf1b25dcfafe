package testpki

import (
	"crypto/x509"
	"encoding/pem"
	"testing"
)

// TestVerifies: the server certificate verifies for each name and for
// 127.0.0.1 against the CA, from Pool and from CAPEM alike.
func TestVerifies(t *testing.T) {
	p, err := New("model.test", "other.test")
	if err != nil {
		t.Fatal(err)
	}
	fromPEM := x509.NewCertPool()
	if !fromPEM.AppendCertsFromPEM(p.CAPEM) {
		t.Fatalf("CAPEM holds no certificate: %q", p.CAPEM)
	}
	for _, pool := range []*x509.CertPool{p.Pool(), fromPEM} {
		for _, name := range []string{"model.test", "other.test", "127.0.0.1"} {
			if _, err := p.Leaf.Leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: pool}); err != nil {
				t.Errorf("verify for %s: %v", name, err)
			}
		}
		if _, err := p.Leaf.Leaf.Verify(x509.VerifyOptions{DNSName: "evil.test", Roots: pool}); err == nil {
			t.Error("the certificate verifies for a name it was not made for")
		}
	}
	if b, _ := pem.Decode(p.CAPEM); b == nil || b.Type != "CERTIFICATE" {
		t.Errorf("CAPEM is not a PEM certificate")
	}
	if _, err := New(); err == nil {
		t.Error("New() without names succeeded")
	}
}
