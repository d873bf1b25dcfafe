// Package admin serves a daemon's control endpoints on a unix socket, never
// on a port agents reach: GET /healthz (the watchdog's probe), GET /metrics
// (Prometheus text format, when the daemon has metrics) and POST /reload
// (like SIGHUP). pipelock and sidecar import it.
package admin

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/clemhq/clem/shared/unixsock"
)

// Handlers are what the endpoints call; a nil Metrics serves no /metrics.
type Handlers struct {
	Healthy func() error
	Metrics func(io.Writer)
	Reload  func() error
}

// Listen creates the unix socket at path (mode 0660, replacing a stale
// socket) and serves h on it until the returned server is closed.
func Listen(path string, h Handlers) (*http.Server, error) {
	ln, err := unixsock.Listen(path, 0o750, 0o660)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	srv := &http.Server{Handler: Mux(h), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(os.Stderr, "admin socket: %v\n", err)
		}
	}()
	return srv, nil
}

// Mux routes the admin endpoints.
func Mux(h Handlers) *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := h.Healthy(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	if h.Metrics != nil {
		m.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
			h.Metrics(w)
		})
	}
	m.HandleFunc("POST /reload", func(w http.ResponseWriter, _ *http.Request) {
		if err := h.Reload(); err != nil {
			http.Error(w, "reload rejected, the old config keeps serving:\n"+err.Error(), http.StatusBadRequest)
			return
		}
		io.WriteString(w, "reloaded\n")
	})
	return m
}
