package broker

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clemhq/clem/agent-vault/internal/ca"
)

// probeBounded runs Probe with a short deadline; it fails the test if
// Probe does not return at all (a generous bound, only so a probe that
// ignores its context fails rather than hangs the suite).
func probeBounded(t *testing.T, network, addr string, caPEM []byte, within time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Probe(ctx, network, addr, caPEM) }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatal("Probe ignored its context")
		return nil
	}
}

// TestProbe: the probe completes its handshake through an intact broker
// (the control) and fails when the socket is gone, the CA it serves
// cannot mint, or the serving loop is wedged; the broker neither audits
// it nor brokers anything on it.
func TestProbe(t *testing.T) {
	e := start(t, true, "")
	caPEM := e.srv.ca.Load().CertPEM()
	if err := probeBounded(t, "unix", e.sock, caPEM, 30*time.Second); err != nil {
		t.Fatalf("Probe of an intact broker = %v, want nil", err)
	}
	if got := e.srv.stats.probes.Load(); got != 1 {
		t.Errorf("probes answered = %d, want 1", got)
	}
	if a := e.audit.String(); a != "" {
		t.Errorf("a passing probe was audited:\n%s", a)
	}

	t.Run("socket gone", func(t *testing.T) {
		err := probeBounded(t, "unix", filepath.Join(t.TempDir(), "gone.sock"), caPEM, 30*time.Second)
		if err == nil || !strings.Contains(err.Error(), "connect") {
			t.Errorf("Probe of a missing socket = %v, want a connect error", err)
		}
	})
	t.Run("CA cannot mint", func(t *testing.T) {
		e := start(t, true, "")
		expired, err := ca.New([]string{"example.com"}, time.Nanosecond)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.srv.Reload(e.srv.cfg.Load(), expired); err != nil {
			t.Fatal(err)
		}
		if err := probeBounded(t, "unix", e.sock, expired.CertPEM(), 30*time.Second); err == nil || !strings.Contains(err.Error(), "TLS handshake") {
			t.Errorf("Probe of a broker whose CA expired = %v, want a failed handshake", err)
		}
	})
	t.Run("CA agents trust is another", func(t *testing.T) {
		other, err := ca.New([]string{"example.com"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := probeBounded(t, "unix", e.sock, other.CertPEM(), 30*time.Second); err == nil || !strings.Contains(err.Error(), "does not verify") {
			t.Errorf("Probe trusting another CA = %v, want a verification failure", err)
		}
	})
	t.Run("accept loop wedged", func(t *testing.T) {
		// Bound, so connecting succeeds (the backlog), but nothing accepts.
		ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "wedged.sock"))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		err = probeBounded(t, "unix", ln.Addr().String(), caPEM, 200*time.Millisecond)
		if err == nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Probe of a listener nobody accepts on = %v, want its deadline", err)
		}
	})
	t.Run("hand-off wedged", func(t *testing.T) {
		// Accepted, then stuck before answering the CONNECT (a lock held
		// forever in the hand-off path looks like this from outside).
		ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "stuck.sock"))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		defer func() { ln.Close(); wg.Wait() }()
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			var b [1]byte
			for {
				if _, err := c.Read(b[:]); err != nil {
					return // the probe gave up and closed
				}
			}
		}()
		err = probeBounded(t, "unix", ln.Addr().String(), caPEM, 200*time.Millisecond)
		if err == nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Probe of a wedged hand-off = %v, want its deadline", err)
		}
	})
	t.Run("only agent-vault's own uid", func(t *testing.T) {
		// The same request from a uid that is not agent-vault's (here: the
		// broker is told its own uid is another) is an ordinary CONNECT to
		// a host nobody brokers: refused and audited, no handshake.
		e := start(t, true, "")
		ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "other.sock"))
		if err != nil {
			t.Fatal(err)
		}
		e.srv.self++ // before this listener's Serve starts
		go e.srv.Serve(ln)
		err = probeBounded(t, "unix", ln.Addr().String(), e.srv.ca.Load().CertPEM(), 30*time.Second)
		if err == nil || !strings.Contains(err.Error(), "refused the probe: 403") {
			t.Errorf("Probe from another uid = %v, want a 403 refusal", err)
		}
		if !strings.Contains(e.audit.String(), `"decision":"deny"`) {
			t.Errorf("the refused probe request was not audited: %q", e.audit.String())
		}
		if got := e.srv.stats.probes.Load(); got != 0 {
			t.Errorf("probes answered from another uid = %d, want 0", got)
		}
	})
}
