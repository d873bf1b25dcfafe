package fakegithub

import (
	"crypto/tls"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clemhq/clem/tests/testpki"
)

// Options sets up a Server.
type Options struct {
	// Token is the credential of the main user, Login. Required.
	Token string
	// Login is the main user's login; "clem-bot" if empty.
	Login string
	// Users are further accounts, each with its own token (one per
	// agent, say).
	Users []User
	// Repos are "owner/name" repositories to create, each a bare
	// repository with one commit on main.
	Repos []string
	// Workflow adds .github/workflows/ci.yml to that first commit.
	Workflow bool
	// Logf, if set, gets one line per request (never a header or a
	// token). Start defaults it to t.Logf.
	Logf func(format string, args ...any)
}

// User is an account and the token that authenticates as it.
type User struct {
	Login string
	Token string
}

// Start serves a new Server over HTTPS on 127.0.0.1 until the test ends,
// with a certificate for github.com and api.github.com from a fresh CA
// (CertPEM). Clients reach it by its real names through StartProxy, or
// with a resolve override to Addr.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	s, err := New(opts, t.TempDir())
	if err != nil {
		t.Fatalf("fakegithub: %v", err)
	}
	pki, err := testpki.New(HostGit, HostAPI)
	if err != nil {
		t.Fatalf("fakegithub: %v", err)
	}
	hs := httptest.NewUnstartedServer(s)
	hs.Config.ErrorLog = log.New(logfWriter(opts.Logf), "fakegithub: ", 0)
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{pki.Leaf}, NextProtos: []string{"http/1.1"}}
	hs.StartTLS()
	t.Cleanup(hs.Close)
	s.addr = hs.Listener.Addr().String()
	s.caPEM = pki.CAPEM
	caFile := filepath.Join(t.TempDir(), "fakegithub-ca.pem")
	if err := os.WriteFile(caFile, pki.CAPEM, 0o644); err != nil {
		t.Fatalf("fakegithub: write CA file: %v", err)
	}
	s.caFile = caFile
	return s
}

// Addr is the listener's host:port on 127.0.0.1.
func (s *Server) Addr() string { return s.addr }

// CertPEM is the CA that signed the server's certificate, in PEM.
func (s *Server) CertPEM() []byte { return append([]byte(nil), s.caPEM...) }

// CAFile is a file holding CertPEM, for SSL_CERT_FILE and GIT_SSL_CAINFO.
func (s *Server) CAFile() string { return s.caFile }

// logfWriter sends the http.Server's own log lines (TLS handshake errors)
// to the test log.
type logfWriter func(string, ...any)

func (f logfWriter) Write(p []byte) (int, error) {
	f("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
