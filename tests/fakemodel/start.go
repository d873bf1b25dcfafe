package fakemodel

import (
	"crypto/tls"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/clemhq/clem/tests/testpki"
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
	pki, err := testpki.New(hosts...)
	if err != nil {
		t.Fatalf("fakemodel: %v", err)
	}
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{pki.Leaf}, NextProtos: []string{"http/1.1"}}
	hs.StartTLS()
	s.URL = hs.URL
	return s, pki.CAPEM
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
