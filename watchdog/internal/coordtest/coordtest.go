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
	"time"

	"github.com/clemhq/clem/shared/coordapi"
)

// Alerts records the alerts it took.
type Alerts struct {
	Path string // the socket; Start listens on it
	mu   sync.Mutex
	got  []coordapi.AlertRequest
	more chan struct{} // closed and replaced at each alert taken
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
		if a.more != nil {
			close(a.more)
			a.more = nil
		}
		a.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"queued":true}`)
	})
	srv := &http.Server{Handler: mux}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	// Wait for Serve to return, so the test leaves no goroutine behind.
	t.Cleanup(func() { srv.Close(); <-done })
}

// Wait waits until n alerts have been taken in all and returns them. The
// deadline only turns a watchdog that never sends into a failure instead
// of a hang.
func (a *Alerts) Wait(t *testing.T, n int) []coordapi.AlertRequest {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		a.mu.Lock()
		if len(a.got) >= n {
			got := append([]coordapi.AlertRequest(nil), a.got...)
			a.mu.Unlock()
			return got
		}
		if a.more == nil {
			a.more = make(chan struct{})
		}
		more := a.more
		a.mu.Unlock()
		select {
		case <-more:
		case <-deadline:
			t.Fatalf("coord took %d alerts, want %d: %+v", len(a.Got()), n, a.Got())
		}
	}
}

// Got returns the alerts taken so far, in order.
func (a *Alerts) Got() []coordapi.AlertRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]coordapi.AlertRequest(nil), a.got...)
}
