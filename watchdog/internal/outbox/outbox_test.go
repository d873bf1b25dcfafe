package outbox

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/clemhq/clem/shared/coordapi"
	"github.com/clemhq/clem/watchdog/internal/coordtest"
)

func TestOutboxKeepsAlertsWhileCoordIsDown(t *testing.T) {
	c := &coordtest.Alerts{Path: filepath.Join(t.TempDir(), "coord.sock")}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	o := New(coordapi.NewClient(c.Path), log)
	o.Add(coordapi.AlertRequest{Severity: coordapi.Critical, Subject: "agent lead", Body: "unit failed"})
	o.Add(coordapi.AlertRequest{Severity: coordapi.Critical, Subject: "", Body: "malformed: no subject"})
	o.Add(coordapi.AlertRequest{Severity: coordapi.Resolved, Subject: "agent lead", Body: "healthy again"})
	if err := o.Flush(context.Background(), nil); err == nil || o.Len() != 3 {
		t.Fatalf("coord down: Flush = %v, %d waiting; want an error and all 3 kept", err, o.Len())
	}
	c.Start(t)
	if err := o.Flush(context.Background(), nil); err != nil || o.Len() != 0 {
		t.Fatalf("coord up: Flush = %v, %d waiting", err, o.Len())
	}
	if got := c.Got(); len(got) != 2 || got[0].Body != "unit failed" || got[1].Severity != coordapi.Resolved {
		t.Errorf("coord got %+v, want the alert then the recovery, in order, without the malformed one", got)
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
