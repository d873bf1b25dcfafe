package broker

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/clemhq/clem/agent-vault/internal/ca"
	"github.com/clemhq/clem/shared/peer"
)

// HealthTarget is the CONNECT target of agent-vault's own health probe. It
// is honoured only from a caller the kernel says runs as agent-vault's own
// uid (nobody else can be that uid), and it gets the TLS handshake a
// brokered tunnel starts with, for the CA's probe host, and nothing after
// it: no request is ever brokered on it. From any other caller it is an
// ordinary CONNECT to a host nobody brokers (.invalid cannot be one).
const HealthTarget = "agent-vault-health.invalid:443"

// isProbe says whether a hand-off is agent-vault's own health probe.
func (s *Server) isProbe(uid uint32, target string) bool {
	return uid == s.self && target == HealthTarget
}

// answerProbe serves the probe as a tunnel is served (accepted by the same
// loop, identified by the kernel, CONNECT read), then completes the TLS
// handshake with a leaf from the CA in force and closes. Probes run every
// half WatchdogSec: they are counted in /metrics, not audited, so they
// cannot crowd the records of agents' connections.
func (s *Server) answerProbe(c net.Conn, buffered int) {
	defer c.Close()
	s.stats.probes.Add(1)
	if buffered > 0 {
		return // the probe waits for the 200 before its handshake
	}
	authority := s.ca.Load()
	host, err := authority.ProbeHost()
	if err != nil {
		return
	}
	if _, err := c.Write([]byte("HTTP/1.1 200 Connection Established\r\n\r\n")); err != nil {
		return
	}
	tc := tls.Server(c, &tls.Config{
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if hello.ServerName != host {
				return nil, fmt.Errorf("health probe asked for %q; it gets a leaf for %s only", hello.ServerName, host)
			}
			return authority.GetCertificate(hello)
		},
		MinVersion: tls.VersionTLS12,
	})
	// Its failure is the probe's to report, from the client side.
	tc.Handshake()
}

// longAgo is a deadline in the past: it ends every pending read and write.
var longAgo = time.Unix(1, 0)

// Probe is agent-vault's health probe, run inside agent-vault: it connects
// to the broker's own listener (network "unix" or "tcp", at addr) as an
// agent's tunnel would, asks for HealthTarget, and completes a TLS
// handshake trusting only caPEM, the CA certificate agents are given. It
// fails when the socket is gone or served by another process, when the
// CA in force cannot mint a leaf that verifies against caPEM now, and when
// the accept loop or the hand-off is wedged (it honours ctx throughout).
func Probe(ctx context.Context, network, addr string, caPEM []byte) error {
	roots, host, err := ca.ProbeTrust(caPEM)
	if err != nil {
		return fmt.Errorf("health probe: %w", err)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return fmt.Errorf("health probe: connect to %s: %w", addr, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(longAgo) })
	defer stop()
	fail := func(what string, err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("health probe: %s did not answer (%s) in time: %w", addr, what, ctx.Err())
		}
		return fmt.Errorf("health probe: %s: %s: %w", addr, what, err)
	}
	if uc, ok := c.(*net.UnixConn); ok {
		// Whoever holds the path answers: it must be this process, not
		// something bound there after agent-vault's socket went away.
		cred, err := peer.UnixPeer(uc)
		if err != nil {
			return fail("peer credentials", err)
		}
		if int(cred.PID) != os.Getpid() {
			return fmt.Errorf("health probe: %s is served by pid %d (uid %d), not by this agent-vault (pid %d): the socket was replaced", addr, cred.PID, cred.UID, os.Getpid())
		}
	}
	if _, err := fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", HealthTarget, HealthTarget); err != nil {
		return fail("send CONNECT", err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		return fail("read the CONNECT answer", err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		line, _, _ := strings.Cut(string(body), "\n")
		return fmt.Errorf("health probe: %s refused the probe: %s %s", addr, resp.Status, line)
	}
	if br.Buffered() > 0 {
		return fmt.Errorf("health probe: %s sent data before the handshake", addr)
	}
	tc := tls.Client(c, &tls.Config{RootCAs: roots, ServerName: host, MinVersion: tls.VersionTLS12})
	if err := tc.HandshakeContext(ctx); err != nil {
		var verr *tls.CertificateVerificationError
		if errors.As(err, &verr) {
			return fmt.Errorf("health probe: %s: its leaf for %s does not verify against the CA agents trust: %w", addr, host, err)
		}
		return fail("TLS handshake for "+host, err)
	}
	return nil
}
