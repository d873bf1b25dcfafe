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

// TestOutboxRestore: alerts an earlier process left waiting go out first,
// with the ids they were raised with, then those queued since; two alerts
// with the same text are two alerts.
func TestOutboxRestore(t *testing.T) {
	c := &coordtest.Alerts{Path: filepath.Join(t.TempDir(), "coord.sock")}
	o := New(coordapi.NewClient(c.Path), slog.New(slog.NewJSONHandler(io.Discard, nil)))
	same := coordapi.AlertRequest{Severity: coordapi.Warning, Subject: "agent lead", Body: "restarting"}
	id := o.Add(same)
	if id2 := o.Add(same); len(id) != 16 || id2 == id {
		t.Fatalf("ids %q %q: want 16 hex digits, distinct", id, id2)
	}
	o.Restore([]Item{{ID: "saved1", Alert: coordapi.AlertRequest{Subject: "daemon coord", Body: "first"}}})
	items := o.Items()
	if len(items) != 3 || items[0].ID != "saved1" || items[1].ID != id {
		t.Fatalf("Items = %+v, want the restored one first", items)
	}
	c.Start(t)
	n := 0
	if err := o.Flush(context.Background(), func() { n++ }); err != nil {
		t.Fatal(err)
	}
	withID := func(a coordapi.AlertRequest, id string) coordapi.AlertRequest { a.ID = id; return a }
	if got := c.Got(); len(got) != 3 || got[0].Body != "first" || got[0].ID != "saved1" || got[1] != withID(same, id) || got[2].ID == id || got[2] != withID(same, got[2].ID) || n != 3 {
		t.Errorf("coord got %+v, taken called %d times; want the restored alert, then both copies, each with its id", got, n)
	}
	o.Restore(make([]Item, Max+1))
	if o.Len() != Max {
		t.Errorf("Restore past Max: %d waiting", o.Len())
	}
}
