package ca

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
)

// Check verifies the authority on its own, with no socket: it gets a leaf
// for one of its hosts (minted with the key, or the cached one) and
// verifies it against the CA certificate as an agent's TLS client would,
// now. It fails when the CA or the leaf has expired, the key cannot sign,
// or the chain or name constraints no longer hold; a CA with no hosts has
// nothing to serve. agent-vault's health probe does the same through its
// socket (broker.Probe); this is the part a unit test can age.
func (c *CA) Check() error {
	host, err := c.ProbeHost()
	if err != nil {
		return fmt.Errorf("CA check: %w", err)
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

// ProbeHost is the name health probes ask a leaf for: the CA's first
// host, or a fixed name under it when that is a wildcard. It must be a
// brokered name, or the CA's name constraints would reject the leaf.
func (c *CA) ProbeHost() (string, error) {
	return probeHost(c.hosts)
}

func probeHost(hosts []string) (string, error) {
	if len(hosts) == 0 {
		return "", errors.New("the CA covers no hosts")
	}
	host := hosts[0]
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		host = "health-probe." + rest
	}
	return host, nil
}

// ProbeTrust is what an agent's TLS client knows of the CA, read from the
// ca.pem agents are given: a pool holding only that certificate, and the
// host a probe asks for under its name constraints.
func ProbeTrust(certPEM []byte) (roots *x509.CertPool, host string, err error) {
	der, err := pemBlock(certPEM, "CERTIFICATE")
	if err != nil {
		return nil, "", fmt.Errorf("CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, "", fmt.Errorf("CA certificate: %w", err)
	}
	hosts, err := constrainedHosts(cert)
	if err != nil {
		return nil, "", fmt.Errorf("CA certificate: %w", err)
	}
	if host, err = probeHost(hosts); err != nil {
		return nil, "", fmt.Errorf("CA certificate: %w", err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return roots, host, nil
}
