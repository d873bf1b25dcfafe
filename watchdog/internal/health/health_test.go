package health

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "admin.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return path
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestProbe(t *testing.T) {
	healthy := true
	path := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		if !healthy {
			http.Error(w, "upstream CA unreadable\r\nsecond line", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	if err := Probe(context.Background(), path); err != nil {
		t.Errorf("healthy: %v", err)
	}
	healthy = false
	if err := Probe(context.Background(), path); err == nil || err.Error() != "HTTP 503: upstream CA unreadable" {
		t.Errorf("unhealthy: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "none.sock")
	if err := Probe(context.Background(), missing); err == nil || !strings.Contains(err.Error(), "dial unix "+missing) {
		t.Errorf("no socket: %v", err)
	}
}
