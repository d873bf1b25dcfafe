package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clemhq/clem/shared/hostpattern"
)

const (
	leafValidity = 24 * time.Hour
	// leafBackdate lets a client whose clock runs a little behind accept a
	// leaf minted a moment ago.
	leafBackdate = 5 * time.Minute
	// leafRenewBefore: a cached leaf with less validity left is minted
	// again, so no handshake is served a certificate about to expire.
	leafRenewBefore = time.Hour
	// maxLeaves bounds the cache: a "*.example.com" CA covers names without
	// limit, and the agent chooses the SNI.
	maxLeaves = 1024
)

// leafEntry is a cached leaf or one being minted. The goroutine that created
// it mints; others for the same host wait on done, so a host is minted once
// however many handshakes ask for it at the same moment. This is singleflight
// folded into the cache: x/sync/singleflight would add a second map and lock
// beside the cache, and a dependency, for what one map entry does here.
type leafEntry struct {
	done chan struct{} // closed once cert or err is set
	cert *tls.Certificate
	err  error
}

// Leaf returns a certificate for exactly host (in canonical form: lower case,
// no trailing dot), signed by the CA, with the CA in its chain and Leaf set.
// It refuses a host the CA does not cover, with the patterns' semantics: an
// exact host, or a subdomain for "*.x". A leaf is valid for 24 hours and
// reused until less than an hour of that remains.
func (c *CA) Leaf(host string) (*tls.Certificate, error) {
	h, err := hostpattern.CanonicalHost(host)
	if err != nil {
		return nil, fmt.Errorf("leaf for %q: %w", host, err)
	}
	if _, ok := c.patterns.Match(h); !ok {
		return nil, fmt.Errorf("leaf for %q: not a brokered host; this CA covers %s", host, strings.Join(c.hosts, ", "))
	}
	e, mint := c.entry(h)
	if mint {
		e.cert, e.err = c.mint(h)
		if e.err != nil {
			c.forget(h, e) // let the next caller try again
		}
		close(e.done)
	}
	<-e.done
	return e.cert, e.err
}

// GetCertificate serves as tls.Config.GetCertificate: the leaf for the name
// the client asked for. A client that sends no name gets no certificate,
// since agent-vault answers only for brokered host names.
func (c *CA) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if hello.ServerName == "" {
		return nil, errors.New("leaf: the TLS client sent no server name (SNI); agent-vault answers only for brokered host names")
	}
	return c.Leaf(hello.ServerName)
}

// entry returns host's fresh or in-flight entry, or a new one that the caller
// must mint (mint = true).
func (c *CA) entry(host string) (e *leafEntry, mint bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if e := c.leaves[host]; e != nil {
		if !minted(e) {
			return e, false // wait for the caller minting it
		}
		// Reading e once done is closed is race-free: the minter wrote
		// it before closing.
		if e.err == nil && fresh(e.cert, now) {
			return e, false
		}
	}
	c.makeRoom(now)
	e = &leafEntry{done: make(chan struct{})}
	c.leaves[host] = e
	return e, true
}

// makeRoom drops stale leaves and then, if the cache is still full, minted
// ones at random (map order). In-flight entries stay: their waiters hold them
// anyway. Called with c.mu held.
func (c *CA) makeRoom(now time.Time) {
	for pass := 0; pass < 2 && len(c.leaves) >= maxLeaves; pass++ {
		for h, e := range c.leaves {
			if !minted(e) || pass == 0 && e.err == nil && fresh(e.cert, now) {
				continue
			}
			delete(c.leaves, h)
			if pass == 1 && len(c.leaves) < maxLeaves {
				break
			}
		}
	}
}

func minted(e *leafEntry) bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

func (c *CA) forget(host string, e *leafEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leaves[host] == e {
		delete(c.leaves, host)
	}
}

func fresh(cert *tls.Certificate, now time.Time) bool {
	return cert.Leaf.NotAfter.Sub(now) >= leafRenewBefore
}

// mint signs a new leaf for host (canonical, covered) with a fresh key.
func (c *CA) mint(host string) (*tls.Certificate, error) {
	if c.onMint != nil {
		c.onMint(host)
	}
	now := c.now()
	if !now.Before(c.cert.NotAfter) {
		return nil, fmt.Errorf("leaf for %s: the CA expired at %s; restart agent-vault to rotate it", host, c.cert.NotAfter.UTC().Format(time.RFC3339))
	}
	// No leaf outlives its CA: clients would reject it then anyway, and
	// the clamp keeps the cache from holding it past that point.
	notAfter := now.Add(leafValidity)
	if notAfter.After(c.cert.NotAfter) {
		notAfter = c.cert.NotAfter
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("leaf for %s: generate key: %w", host, err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, fmt.Errorf("leaf for %s: %w", host, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: host},
		DNSNames:              []string{host},
		NotBefore:             now.Add(-leafBackdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		return nil, fmt.Errorf("leaf for %s: sign: %w", host, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("leaf for %s: parse own certificate: %w", host, err)
	}
	return &tls.Certificate{
		Certificate: [][]byte{der, c.cert.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}, nil
}
