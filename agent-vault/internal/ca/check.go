package ca

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
)

// Check is agent-vault's health probe of its authority: it gets a leaf for
// one of its hosts (minted with the key, or the cached one) and verifies it
// against the CA certificate as an agent's TLS client would, now. It fails
// when the CA or the leaf has expired, the key cannot sign, or the chain or
// name constraints no longer hold; a CA with no hosts has nothing to serve.
func (c *CA) Check() error {
	if len(c.hosts) == 0 {
		return errors.New("CA check: the CA covers no hosts")
	}
	host := c.hosts[0]
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		host = "health-probe." + rest
	}
	leaf, err := c.Leaf(host)
	if err != nil {
		return fmt.Errorf("CA check: leaf for %s: %w", host, err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(c.cert)
	if _, err := leaf.Leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, CurrentTime: c.now()}); err != nil {
		return fmt.Errorf("CA check: a leaf for %s does not verify: %w", host, err)
	}
	return nil
}
