package core

import (
	"testing"

	"github.com/clemhq/clem/coord/internal/backend"
	"github.com/clemhq/clem/shared/coordapi"
)

// TestAlertIDTakenOnce: a retried alert (same caller, same id) is sent
// once; the same id from another caller, and alerts without an id (the
// control: the old behaviour), are each sent.
func TestAlertIDTakenOnce(t *testing.T) {
	c, f := newCore(t)
	wd := backend.Author{Kind: backend.Person, Name: "watchdog", ID: "uid:990"}
	other := backend.Author{Kind: backend.Person, Name: "ops", ID: "uid:1000"}
	send := func(a backend.Author, id string) {
		t.Helper()
		if _, err := c.Alert(t.Context(), a, coordapi.AlertRequest{Subject: "agent dev", Body: "down", ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	send(wd, "0123456789abcdef")
	send(wd, "0123456789abcdef") // the watchdog's retry after a restart
	send(other, "0123456789abcdef")
	send(wd, "")
	send(wd, "")
	alerts, err := f.Backend.(interface {
		Alerts(int) ([]backend.Alert, error)
	}).Alerts(100)
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 4 {
		t.Fatalf("%d alerts on the board, want 4 (the retry dropped, the rest sent)", len(alerts))
	}
}
