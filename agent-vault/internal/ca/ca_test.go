package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// newTestCA returns a CA for hosts, valid long enough that leaves are not
// clamped to its expiry.
func newTestCA(t testing.TB, hosts ...string) *CA {
	t.Helper()
	c, err := New(hosts, 7*24*time.Hour)
	if err != nil {
		t.Fatalf("New(%q) error = %v", hosts, err)
	}
	return c
}

// forge signs tmpl with the CA's key directly, bypassing Leaf: what a thief
// of ca-key.pem could do.
func forge(t testing.TB, c *CA, tmpl *x509.Certificate) *x509.Certificate {
	return forgeTLS(t, c, tmpl).Leaf
}

// forgeTLS is forge with the leaf's key, ready to serve.
func forgeTLS(t testing.TB, c *CA, tmpl *x509.Certificate) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.NotBefore = time.Now().Add(-time.Minute)
	tmpl.NotAfter = time.Now().Add(time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatalf("forge: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der, c.cert.Raw}, PrivateKey: key, Leaf: cert}
}

// verifyChain verifies leaf the way a client that trusts only ca.pem does,
// without a host name, so that only the chain and its constraints decide.
func verifyChain(t testing.TB, c *CA, leaf *x509.Certificate) error {
	t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(c.CertPEM()) {
		t.Fatal("CertPEM does not parse")
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:       roots,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		CurrentTime: time.Now(),
	})
	return err
}

func isNameConstraintError(err error) bool {
	var inv x509.CertificateInvalidError
	return errors.As(err, &inv) && inv.Reason == x509.CANotAuthorizedForThisName
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestNameConstraintsEnforced: the limits hold in verification, for
// certificates Leaf would never mint.
func TestNameConstraintsEnforced(t *testing.T) {
	tests := []struct {
		name  string
		hosts []string
		leaf  x509.Certificate
		ok    bool
	}{
		{name: "exact host", hosts: []string{"api.anthropic.com"},
			leaf: x509.Certificate{DNSNames: []string{"api.anthropic.com"}}, ok: true},
		{name: "unbound name", hosts: []string{"api.anthropic.com"},
			leaf: x509.Certificate{DNSNames: []string{"evil.example.org"}}},
		{name: "bound and unbound name", hosts: []string{"api.anthropic.com"},
			leaf: x509.Certificate{DNSNames: []string{"api.anthropic.com", "evil.example.org"}}},
		{name: "parent of exact host", hosts: []string{"api.anthropic.com"},
			leaf: x509.Certificate{DNSNames: []string{"anthropic.com"}}},
		// X.509 has no exact-name constraint; Leaf refuses this name
		// (TestLeafRefuses), verification does not. See constrain.
		{name: "subdomain of exact host", hosts: []string{"api.anthropic.com"},
			leaf: x509.Certificate{DNSNames: []string{"x.api.anthropic.com"}}, ok: true},
		{name: "IPv4 SAN", hosts: []string{"api.anthropic.com"},
			leaf: x509.Certificate{IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}},
		{name: "IPv6 SAN", hosts: []string{"api.anthropic.com"},
			leaf: x509.Certificate{IPAddresses: []net.IP{net.ParseIP("::1")}}},
		{name: "bound name and IP SAN", hosts: []string{"api.anthropic.com"},
			leaf: x509.Certificate{DNSNames: []string{"api.anthropic.com"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")}}},
		{name: "e-mail SAN", hosts: []string{"api.anthropic.com"},
			leaf: x509.Certificate{EmailAddresses: []string{"root@evil.example.org"}}},
		{name: "URI SAN", hosts: []string{"api.anthropic.com"},
			leaf: x509.Certificate{URIs: []*url.URL{mustURL(t, "https://evil.example.org/")}}},
		{name: "wildcard subdomain", hosts: []string{"*.example.com"},
			leaf: x509.Certificate{DNSNames: []string{"a.example.com"}}, ok: true},
		{name: "wildcard deeper subdomain", hosts: []string{"*.example.com"},
			leaf: x509.Certificate{DNSNames: []string{"a.b.example.com"}}, ok: true},
		{name: "wildcard base name", hosts: []string{"*.example.com"},
			leaf: x509.Certificate{DNSNames: []string{"example.com"}}},
		{name: "wildcard suffix lookalike", hosts: []string{"*.example.com"},
			leaf: x509.Certificate{DNSNames: []string{"evilexample.com"}}},
		{name: "second host of two", hosts: []string{"api.anthropic.com", "*.example.com"},
			leaf: x509.Certificate{DNSNames: []string{"a.example.com"}}, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCA(t, tt.hosts...)
			leaf := forge(t, c, &tt.leaf)
			err := verifyChain(t, c, leaf)
			switch {
			case tt.ok && err != nil:
				t.Errorf("Verify(%v %v %v %v) error = %v, want nil", leaf.DNSNames, leaf.IPAddresses, leaf.EmailAddresses, leaf.URIs, err)
			case !tt.ok && !isNameConstraintError(err):
				t.Errorf("Verify(%v %v %v %v) error = %v, want CANotAuthorizedForThisName", leaf.DNSNames, leaf.IPAddresses, leaf.EmailAddresses, leaf.URIs, err)
			}
		})
	}
}

func TestNewCertificate(t *testing.T) {
	before := time.Now()
	c := newTestCA(t, "*.example.com", "api.anthropic.com", "API.anthropic.com")
	cert := c.cert
	if want := []string{"*.example.com", "api.anthropic.com"}; !slices.Equal(c.Hosts(), want) {
		t.Errorf("Hosts() = %q, want %q", c.Hosts(), want)
	}
	if want := []string{".example.com", "api.anthropic.com"}; !slices.Equal(cert.PermittedDNSDomains, want) {
		t.Errorf("PermittedDNSDomains = %q, want %q", cert.PermittedDNSDomains, want)
	}
	var critical bool
	for _, ext := range cert.Extensions {
		if ext.Id.Equal([]int{2, 5, 29, 30}) { // nameConstraints
			critical = ext.Critical
		}
	}
	if !critical || !cert.PermittedDNSDomainsCritical {
		t.Error("name constraints extension is not critical")
	}
	var excluded []string
	for _, r := range cert.ExcludedIPRanges {
		excluded = append(excluded, r.String())
	}
	if want := []string{"0.0.0.0/0", "::/0"}; !slices.Equal(excluded, want) {
		t.Errorf("ExcludedIPRanges = %q, want %q", excluded, want)
	}
	if want := []string{"invalid"}; !slices.Equal(cert.PermittedEmailAddresses, want) || !slices.Equal(cert.PermittedURIDomains, want) {
		t.Errorf("PermittedEmailAddresses = %q, PermittedURIDomains = %q, want %q for both", cert.PermittedEmailAddresses, cert.PermittedURIDomains, want)
	}
	if !cert.IsCA || !cert.BasicConstraintsValid || cert.MaxPathLen != 0 || !cert.MaxPathLenZero {
		t.Errorf("IsCA %v, MaxPathLen %d: want a CA with path length 0", cert.IsCA, cert.MaxPathLen)
	}
	if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign; cert.KeyUsage != want {
		t.Errorf("KeyUsage = %v, want %v", cert.KeyUsage, want)
	}
	if want := "clem agent-vault CA (2 hosts)"; cert.Subject.CommonName != want {
		t.Errorf("CommonName = %q, want %q", cert.Subject.CommonName, want)
	}
	if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() > 128 {
		t.Errorf("serial %v is not a positive 128-bit number", cert.SerialNumber)
	}
	if nb := before.Add(-time.Hour).Truncate(time.Second); cert.NotBefore.Before(nb.Add(-time.Second)) || cert.NotBefore.After(nb.Add(2*time.Second)) {
		t.Errorf("NotBefore = %v, want about %v", cert.NotBefore, nb)
	}
	if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key %T is not P-256", cert.PublicKey)
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name     string
		hosts    []string
		validity time.Duration
		errHas   string
	}{
		{"no hosts", nil, time.Hour, "no hosts"},
		{"wildcard public suffix", []string{"*.com"}, time.Hour, "public suffix"},
		{"IP address", []string{"10.0.0.1"}, time.Hour, "IP address"},
		{"zero validity", []string{"api.anthropic.com"}, 0, "validity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.hosts, tt.validity)
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("New(%q, %v) error = %v, want one containing %q", tt.hosts, tt.validity, err, tt.errHas)
			}
		})
	}
}

func TestCovers(t *testing.T) {
	c := newTestCA(t, "api.anthropic.com", "*.example.com")
	tests := []struct {
		hosts []string
		want  bool
	}{
		{[]string{"api.anthropic.com", "*.example.com"}, true},
		{[]string{"*.example.com", "api.anthropic.com", "api.anthropic.com"}, true},
		{[]string{"API.Anthropic.com.", "*.example.com"}, true},
		{[]string{"api.anthropic.com"}, false},
		{[]string{"api.anthropic.com", "*.example.com", "github.com"}, false},
		{[]string{"api.anthropic.com", "example.com"}, false},
		{[]string{"api.anthropic.com", "*.com"}, false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := c.Covers(tt.hosts); got != tt.want {
			t.Errorf("Covers(%q) = %v, want %v", tt.hosts, got, tt.want)
		}
	}
}

func TestLoadRoundTrip(t *testing.T) {
	c := newTestCA(t, "api.anthropic.com", "*.example.com")
	keyPEM, err := c.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := pem.Decode(keyPEM); b == nil || b.Type != "PRIVATE KEY" {
		t.Fatalf("KeyPEM() is not a PKCS#8 PRIVATE KEY block:\n%s", keyPEM)
	}
	got, err := Load(c.CertPEM(), keyPEM)
	if err != nil {
		t.Fatalf("Load error = %v", err)
	}
	if !slices.Equal(got.Hosts(), c.Hosts()) || string(got.CertPEM()) != string(c.CertPEM()) {
		t.Errorf("Load = %q, want %q", got.Hosts(), c.Hosts())
	}
	// A leaf from the loaded CA verifies against the original's certificate.
	leaf, err := got.Leaf("a.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyChain(t, c, leaf.Leaf); err != nil {
		t.Errorf("leaf from loaded CA: Verify error = %v", err)
	}
}

func TestLoadRefuses(t *testing.T) {
	c := newTestCA(t, "api.anthropic.com")
	keyPEM, _ := c.KeyPEM()
	other := newTestCA(t, "api.anthropic.com")
	otherKey, _ := other.KeyPEM()

	// A CA as a careless tool would make it: no name constraints.
	loose, looseKey := selfSigned(t, func(tmpl *x509.Certificate) {})
	// Constrained to the host, but IP and e-mail names left open.
	dnsOnly, dnsOnlyKey := selfSigned(t, func(tmpl *x509.Certificate) {
		tmpl.PermittedDNSDomainsCritical = true
		tmpl.PermittedDNSDomains = []string{"api.anthropic.com"}
	})
	leaf, err := c.Leaf("api.anthropic.com")
	if err != nil {
		t.Fatal(err)
	}
	leafKeyDER, _ := x509.MarshalPKCS8PrivateKey(leaf.PrivateKey)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKCS8PrivateKey(p384)

	tests := []struct {
		name         string
		certPEM, key []byte
		errHas       string
	}{
		{"garbage certificate", []byte("not pem"), keyPEM, "no CERTIFICATE PEM block"},
		{"missing key", c.CertPEM(), nil, "no PRIVATE KEY PEM block"},
		{"another CA's key", c.CertPEM(), otherKey, "does not belong"},
		{"P-384 key", c.CertPEM(), pemOf("PRIVATE KEY", p384DER), "not an ECDSA P-256 key"},
		{"unconstrained CA", loose, looseKey, "no critical name constraints"},
		{"IP and e-mail open", dnsOnly, dnsOnlyKey, "differ from agent-vault's"},
		{"leaf, not CA", pemOf("CERTIFICATE", leaf.Certificate[0]), pemOf("PRIVATE KEY", leafKeyDER), "not a CA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.certPEM, tt.key)
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("Load error = %v, want one containing %q", err, tt.errHas)
			}
		})
	}
}

// selfSigned makes a P-256 CA like New's, as edit leaves it, and returns its
// certificate and PKCS#8 key as PEM.
func selfSigned(t *testing.T, edit func(*x509.Certificate)) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	edit(tmpl)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("CERTIFICATE", der), pemOf("PRIVATE KEY", keyDER)
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkixCN(cn string) pkix.Name { return pkix.Name{CommonName: cn} }
