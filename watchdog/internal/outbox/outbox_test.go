package outbox

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/clemhq/clem/shared/coordapi"
)

// coordAlerts serves coord's POST /v1/alert on a unix socket, decoding
// bodies as coord does (coordapi.Decode), and records what it took.
type coordAlerts struct {
	mu   sync.Mutex
	got  []coordapi.AlertRequest
	srv  *http.Server
	path string
}

func (c *coordAlerts) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("unix", c.path)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(coordapi.RouteAlert, func(w http.ResponseWriter, r *http.Request) {
		a, err := coordapi.Decode[coordapi.AlertRequest](r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(coordapi.ErrorResponse{Error: err.Error()})
			return
		}
		c.mu.Lock()
		c.got = append(c.got, a)
		c.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"queued":true}`)
	})
	c.srv = &http.Server{Handler: mux}
	go c.srv.Serve(ln)
	t.Cleanup(func() { c.srv.Close() })
}

func TestOutboxKeepsAlertsWhileCoordIsDown(t *testing.T) {
	c := &coordAlerts{path: filepath.Join(t.TempDir(), "coord.sock")}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	o := New(coordapi.NewClient(c.path), log)
	o.Add(coordapi.AlertRequest{Severity: coordapi.Critical, Subject: "agent lead", Body: "unit failed"})
	o.Add(coordapi.AlertRequest{Severity: coordapi.Critical, Subject: "", Body: "malformed: no subject"})
	o.Add(coordapi.AlertRequest{Severity: coordapi.Resolved, Subject: "agent lead", Body: "healthy again"})
	if err := o.Flush(context.Background()); err == nil || o.Len() != 3 {
		t.Fatalf("coord down: Flush = %v, %d waiting; want an error and all 3 kept", err, o.Len())
	}
	c.start(t)
	if err := o.Flush(context.Background()); err != nil || o.Len() != 0 {
		t.Fatalf("coord up: Flush = %v, %d waiting", err, o.Len())
	}
	if len(c.got) != 2 || c.got[0].Body != "unit failed" || c.got[1].Severity != coordapi.Resolved {
		t.Errorf("coord got %+v, want the alert then the recovery, in order, without the malformed one", c.got)
	}
}

func TestOutboxIsBounded(t *testing.T) {
	o := New(coordapi.NewClient(filepath.Join(t.TempDir(), "none.sock")), slog.New(slog.NewJSONHandler(io.Discard, nil)))
	for range Max + 5 {
		o.Add(coordapi.AlertRequest{Subject: "s", Body: "b"})
	}
	if o.Len() != Max {
		t.Errorf("Len = %d, want %d", o.Len(), Max)
	}
}
