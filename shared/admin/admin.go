// Package admin serves a daemon's control endpoints on a unix socket, never
// on a port agents reach: GET /healthz (the watchdog's probe), GET /metrics
// (Prometheus text format, when the daemon has metrics) and POST /reload
// (like SIGHUP). shared/lifecycle serves it for every daemon; the watchdog
// imports it as a client, and daemons' tests to probe the socket.
package admin

import (
	"context"
	"io"
	"net"
	"net/http"
)

// Handlers are what the endpoints call; a nil Metrics serves no /metrics.
type Handlers struct {
	Healthy func() error
	Metrics func(io.Writer)
	Reload  func() error
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

// Client talks HTTP to the admin socket at path (any host in the URL).
func Client(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableKeepAlives: true,
	}}
}
