package ca

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The agents' tools are mostly Node and OpenSSL-based (curl, git, Python),
// not Go: these tests hold those verifiers to the same limits. Each skips when
// its tool is not installed.

func lookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed", name)
	}
	return p
}

func writePEM(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOpenSSLEnforcesConstraints(t *testing.T) {
	openssl := lookPath(t, "openssl")
	c := newTestCA(t, "api.anthropic.com", "*.example.com")
	dir := t.TempDir()
	caFile := writePEM(t, dir, "ca.pem", c.CertPEM())
	minted, err := c.Leaf("a.example.com")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("https://evil.example.org/")
	tests := []struct {
		name string
		leaf *x509.Certificate
		ok   bool
	}{
		{"minted leaf", minted.Leaf, true},
		{"forged covered name", forge(t, c, &x509.Certificate{DNSNames: []string{"api.anthropic.com"}}), true},
		{"forged unbound name", forge(t, c, &x509.Certificate{DNSNames: []string{"evil.example.org"}}), false},
		{"forged wildcard base", forge(t, c, &x509.Certificate{DNSNames: []string{"example.com"}}), false},
		{"forged IP SAN", forge(t, c, &x509.Certificate{IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}), false},
		{"forged e-mail SAN", forge(t, c, &x509.Certificate{EmailAddresses: []string{"root@evil.example.org"}}), false},
		{"forged URI SAN", forge(t, c, &x509.Certificate{URIs: []*url.URL{u}}), false},
		// OpenSSL falls back to the common name when there is no DNS SAN.
		{"forged common name only", forge(t, c, &x509.Certificate{Subject: pkixCN("evil.example.org")}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leafFile := writePEM(t, t.TempDir(), "leaf.pem", pemOf("CERTIFICATE", tt.leaf.Raw))
			out, err := exec.Command(openssl, "verify", "-CAfile", caFile, "-purpose", "sslserver", leafFile).CombinedOutput()
			switch {
			case tt.ok && err != nil:
				t.Errorf("openssl verify: %v\n%s", err, out)
			case !tt.ok && (err == nil || !strings.Contains(string(out), "subtree violation")):
				t.Errorf("openssl verify = %v, want a subtree violation\n%s", err, out)
			}
		})
	}
}

// serveHTTPS serves "ok" over TLS on loopback with c's leaves, except that
// for evil.example.org it presents a leaf forged with the CA's key.
func serveHTTPS(t *testing.T, c *CA) (port string) {
	t.Helper()
	forged := forgeTLS(t, c, &x509.Certificate{Subject: pkixCN("evil.example.org"), DNSNames: []string{"evil.example.org"}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		TLSConfig: &tls.Config{GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if hello.ServerName == "evil.example.org" {
				return forged, nil
			}
			return c.GetCertificate(hello)
		}},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // refused handshakes are the point
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return port
}

func TestCurlTrustsOnlyCoveredHosts(t *testing.T) {
	curl := lookPath(t, "curl")
	c := newTestCA(t, "api.anthropic.com")
	caFile := writePEM(t, t.TempDir(), "ca.pem", c.CertPEM())
	port := serveHTTPS(t, c)
	for host, wantOK := range map[string]bool{"api.anthropic.com": true, "evil.example.org": false} {
		cmd := exec.Command(curl, "--silent", "--show-error", "--max-time", "10", "--noproxy", "*",
			"--cacert", caFile, "--resolve", host+":"+port+":127.0.0.1", "https://"+host+":"+port+"/")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		switch {
		case wantOK && (err != nil || string(out) != "ok"):
			t.Errorf("curl https://%s/ = %q, %v; want \"ok\"\n%s", host, out, err, &stderr)
		case !wantOK && (err == nil || !strings.Contains(stderr.String(), "subtree violation")):
			t.Errorf("curl https://%s/ (forged leaf) = %q, %v; want a subtree violation\n%s", host, out, err, &stderr)
		}
	}
}

// TestNodeTrustsOnlyCoveredHosts: the way Claude Code meets the CA, through
// NODE_EXTRA_CA_CERTS.
func TestNodeTrustsOnlyCoveredHosts(t *testing.T) {
	node := lookPath(t, "node")
	c := newTestCA(t, "api.anthropic.com")
	caFile := writePEM(t, t.TempDir(), "ca.pem", c.CertPEM())
	port := serveHTTPS(t, c)
	const script = `
const https = require('https');
const req = https.get({host: '127.0.0.1', port: +process.env.PORT, servername: process.env.HOST,
    headers: {host: process.env.HOST}, timeout: 10000}, res => {
  res.setEncoding('utf8');
  let body = '';
  res.on('data', d => body += d);
  res.on('end', () => process.stdout.write(body));
});
req.on('error', e => { console.error(e.code + ': ' + e.message); process.exit(1); });
`
	for host, wantOK := range map[string]bool{"api.anthropic.com": true, "evil.example.org": false} {
		cmd := exec.Command(node, "-e", script)
		cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+caFile, "HOST="+host, "PORT="+port)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		switch {
		case wantOK && (err != nil || string(out) != "ok"):
			t.Errorf("node https.get(%s) = %q, %v; want \"ok\"\n%s", host, out, err, &stderr)
		case !wantOK && (err == nil || !strings.Contains(stderr.String(), "subtree violation")):
			t.Errorf("node https.get(%s) (forged leaf) = %q, %v; want a subtree violation\n%s", host, out, err, &stderr)
		}
	}
}
