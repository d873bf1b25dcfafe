// Package coordtest serves coord's alert route (POST /v1/alert) on a unix
// socket for the watchdog's tests: bodies are decoded exactly as coord does
// (coordapi.Decode), so the watchdog's real coordapi.Client is what talks to
// it. Only the watchdog's tests import it.
package coordtest

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/clemhq/clem/shared/coordapi"
)

// Alerts records the alerts it took.
type Alerts struct {
	Path string // the socket; Start listens on it
	mu   sync.Mutex
	got  []coordapi.AlertRequest
}

// Start serves on a.Path until the test ends.
func (a *Alerts) Start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("unix", a.Path)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(coordapi.RouteAlert, func(w http.ResponseWriter, r *http.Request) {
		req, err := coordapi.Decode[coordapi.AlertRequest](r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(coordapi.ErrorResponse{Error: err.Error()})
			return
		}
		a.mu.Lock()
		a.got = append(a.got, req)
		a.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"queued":true}`)
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// Got returns the alerts taken so far, in order.
func (a *Alerts) Got() []coordapi.AlertRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]coordapi.AlertRequest(nil), a.got...)
}
