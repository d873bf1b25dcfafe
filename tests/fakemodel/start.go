package fakemodel

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Start serves a new Server over plain HTTP on 127.0.0.1 (s.URL is
// http://127.0.0.1:PORT) until the test ends. Logf defaults to t.Logf.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, hs := newTest(t, cfg)
	hs.Start()
	s.URL = hs.URL
	return s
}

// StartTLS serves a new Server over HTTPS on 127.0.0.1 with a certificate
// for hosts (and 127.0.0.1), signed by a fresh CA whose PEM is returned: a
// TLS upstream for api.anthropic.com behind agent-vault, say, which dials
// it with that CA and a resolve override. s.URL is https://127.0.0.1:PORT.
func StartTLS(t testing.TB, cfg Config, hosts ...string) (s *Server, caPEM []byte) {
	t.Helper()
	s, hs := newTest(t, cfg)
	cert, caPEM, err := newCert(hosts)
	if err != nil {
		t.Fatalf("fakemodel: %v", err)
	}
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}
	hs.StartTLS()
	s.URL = hs.URL
	return s, caPEM
}

func newTest(t testing.TB, cfg Config) (*Server, *httptest.Server) {
	if cfg.Logf == nil {
		cfg.Logf = t.Logf
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(s)
	hs.Config.ErrorLog = log.New(logfWriter(cfg.Logf), "fakemodel: ", 0)
	// Close releases stalled replies first, so hs.Close does not wait on them.
	t.Cleanup(func() {
		s.Close()
		hs.Close()
	})
	return s, hs
}

// logfWriter sends the http.Server's own log lines (TLS handshake errors)
// to the test log.
type logfWriter func(string, ...any)

func (f logfWriter) Write(p []byte) (int, error) {
	f("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newCert makes a CA and a server certificate for hosts and 127.0.0.1,
// valid for a day.
func newCert(hosts []string) (tls.Certificate, []byte, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fakemodel test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("CA certificate: %w", err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("server key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "fakemodel"},
		DNSNames: hosts, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("server certificate: %w", err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, caPEM, nil
}
