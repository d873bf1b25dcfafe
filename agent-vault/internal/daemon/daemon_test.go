package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReloadGoodAndBad: a broken config is refused and audited while the
// old one keeps serving; a good one with a new host rotates the CA.
func TestReloadGoodAndBad(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "k"), []byte("sk-secret-value"), 0o600)
	sock := filepath.Join(dir, "b.sock")
	auditPath := filepath.Join(dir, "audit.log")
	cfg := filepath.Join(dir, "v.toml")
	write := func(hosts, extra string) {
		src := fmt.Sprintf("[listen]\nsocket = %q\n[ca]\ndir = %q\n[secrets]\ndir = %q\n[audit]\npath = %q\n[[binding]]\nname = \"b\"\nsecret = \"k\"\nhosts = [%s]\n%s[[binding.placeholder]]\nagent = \"lead\"\nvalue = \"__clem_lead_b_0011223344556677__\"\n",
			sock, filepath.Join(dir, "ca"), dir, auditPath, hosts, extra)
		if err := os.WriteFile(cfg, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`"api.example.com"`, "")
	hup := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), hup) }()
	defer func() { cancel(); <-done }()
	waitAudit(t, auditPath, `"event":"start"`)
	caBefore, _ := os.ReadFile(filepath.Join(dir, "ca", "ca.pem"))

	write(`"*.com"`, "") // a wildcard under a public suffix: refused
	hup <- os.Interrupt
	waitAudit(t, auditPath, `"event":"reload","decision":"deny"`)
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("socket gone after a bad reload: %v", err)
	}
	if now, _ := os.ReadFile(filepath.Join(dir, "ca", "ca.pem")); string(now) != string(caBefore) {
		t.Error("a rejected reload replaced the CA")
	}
	write(`"api.example.com", "uploads.example.com"`, "")
	hup <- os.Interrupt
	waitAudit(t, auditPath, `"event":"ca_rotation"`)
	waitAudit(t, auditPath, `"event":"reload","decision":"allow"`)
	if now, _ := os.ReadFile(filepath.Join(dir, "ca", "ca.pem")); string(now) == string(caBefore) {
		t.Error("a new brokered host did not rotate the name-constrained CA")
	}
	if b, _ := os.ReadFile(auditPath); strings.Contains(string(b), "sk-secret-value") {
		t.Error("the audit log contains the secret")
	}
}

func waitAudit(t *testing.T, path, want string) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if b, _ := os.ReadFile(path); strings.Contains(string(b), want) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	b, _ := os.ReadFile(path)
	t.Fatalf("audit log never showed %s:\n%s", want, b)
}

// TestHealthyFailsWithoutItsSocket: the probe fails when the broker's
// socket is gone or replaced by something that is not a socket (the CA
// half of the probe is ca.TestCheck).
func TestHealthyFailsWithoutItsSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "b.sock")
	if err := healthy(nil, sock); err == nil || !strings.Contains(err.Error(), "socket") {
		t.Errorf("healthy() with no socket = %v, want a socket error", err)
	}
	os.WriteFile(sock, nil, 0o600)
	if err := healthy(nil, sock); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("healthy() with a plain file = %v, want a not-a-socket error", err)
	}
}
