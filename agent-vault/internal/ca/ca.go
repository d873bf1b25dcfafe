package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/clemhq/clem/shared/hostpattern"
)

// CA is a name-constrained certificate authority: an ECDSA P-256 key and its
// self-signed certificate, limited to a set of host patterns. It mints and
// caches leaf certificates for those hosts and is safe for concurrent use.
type CA struct {
	cert     *x509.Certificate
	key      *ecdsa.PrivateKey
	hosts    []string         // canonical, sorted: exactly the name constraints
	patterns hostpattern.List // hosts, parsed, for Leaf's matching

	// Test hooks, set before first use.
	now    func() time.Time
	onMint func(host string)

	mu     sync.Mutex
	leaves map[string]*leafEntry // by canonical host
}

// New creates a CA valid for validity and limited to hosts: "api.anthropic.com"
// for that host, "*.example.com" for subdomains of example.com.
func New(hosts []string, validity time.Duration) (*CA, error) {
	if validity <= 0 {
		return nil, fmt.Errorf("new CA: validity %v must be positive", validity)
	}
	canon, pats, err := canonicalHosts(hosts)
	if err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("new CA: generate key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization: []string{"clem"},
			CommonName:   subjectName(len(canon)),
		},
		// Backdated so that a client whose clock runs a little behind
		// still accepts a CA made a moment ago.
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// It signs leaves only: an intermediate would be one more key to steal.
		MaxPathLen:     0,
		MaxPathLenZero: true,
	}
	constrain(tmpl, canon)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("new CA: sign certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("new CA: parse own certificate: %w", err)
	}
	return newCA(cert, key, canon, pats), nil
}

// Load reads a CA from its PEM certificate and PKCS#8 PEM key. It refuses a
// certificate that is not a self-signed CA for that key or whose name
// constraints are not exactly those New writes, since agent-vault must never
// present a CA that is good for more than the brokered hosts.
func Load(certPEM, keyPEM []byte) (*CA, error) {
	certDER, err := pemBlock(certPEM, "CERTIFICATE")
	if err != nil {
		return nil, fmt.Errorf("load CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, fmt.Errorf("load CA certificate: %w", err)
	}
	keyDER, err := pemBlock(keyPEM, "PRIVATE KEY")
	if err != nil {
		return nil, fmt.Errorf("load CA key: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(keyDER)
	if err != nil {
		return nil, fmt.Errorf("load CA key: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("load CA key: %T is not an ECDSA P-256 key", k)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("load CA: the key does not belong to the certificate")
	}
	if !cert.BasicConstraintsValid || !cert.IsCA || cert.MaxPathLen != 0 || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, errors.New("load CA: certificate is not a CA limited to signing leaves")
	}
	if err := cert.CheckSignatureFrom(cert); err != nil {
		return nil, fmt.Errorf("load CA: certificate is not self-signed: %w", err)
	}
	hosts, err := constrainedHosts(cert)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	_, pats, err := canonicalHosts(hosts)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	return newCA(cert, key, hosts, pats), nil
}

func newCA(cert *x509.Certificate, key *ecdsa.PrivateKey, hosts []string, pats hostpattern.List) *CA {
	return &CA{
		cert:     cert,
		key:      key,
		hosts:    hosts,
		patterns: pats,
		now:      time.Now,
		leaves:   make(map[string]*leafEntry),
	}
}

// CertPEM returns the CA certificate, PEM-encoded, for the agents' trust stores.
func (c *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw})
}

// KeyPEM returns the CA's private key as a PKCS#8 "PRIVATE KEY" PEM block.
func (c *CA) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		return nil, fmt.Errorf("encode CA key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Hosts returns the canonical host patterns the CA is limited to, sorted.
func (c *CA) Hosts() []string { return slices.Clone(c.hosts) }

// Covers reports whether the CA is limited to exactly hosts (in any order,
// duplicates ignored). When it is not, the caller needs a new CA: one that
// covers more would be trusted for hosts no longer brokered.
func (c *CA) Covers(hosts []string) bool {
	canon, _, err := canonicalHosts(hosts)
	return err == nil && slices.Equal(canon, c.hosts)
}

// pemBlock returns the bytes of the first PEM block of type typ in data,
// skipping others, so one file may hold both a key and its certificate.
func pemBlock(data []byte, typ string) ([]byte, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("no %s PEM block found", typ)
		}
		if b.Type == typ {
			return b.Bytes, nil
		}
	}
}

// randomSerial returns a random positive 128-bit serial number; RFC 5280 wants
// serials unique per CA and CAs must not let a requester predict them.
func randomSerial() (*big.Int, error) {
	one := big.NewInt(1)
	limit := new(big.Int).Sub(new(big.Int).Lsh(one, 128), one) // 2^128-1, so n+1 fits 128 bits
	n, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n.Add(n, one), nil // never zero
}

func subjectName(n int) string {
	if n == 1 {
		return "clem agent-vault CA (1 host)"
	}
	return fmt.Sprintf("clem agent-vault CA (%d hosts)", n)
}
