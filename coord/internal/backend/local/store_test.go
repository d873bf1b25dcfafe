package local

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/clemhq/clem/coord/internal/backend"
	"github.com/clemhq/clem/coord/internal/backend/backendtest"
)

func open(t *testing.T, now func() time.Time) backend.Backend {
	b, err := Open(filepath.Join(t.TempDir(), FileName), now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	backendtest.Run(t, open)
}

// TestReopen: the board survives a restart of coord, and a second process
// cannot open it while coord has it.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	b, err := Open(path, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	task, err := b.Create(t.Context(), backend.NewTask{Title: "persist"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, time.Now); err == nil {
		t.Fatal("Open of a board that is already open succeeded, want a lock timeout")
	}
	b.Close()
	b, err = Open(path, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, err := b.Get(t.Context(), task.ID)
	if err != nil || got.Title != "persist" {
		t.Fatalf("Get after reopen = %+v, %v", got, err)
	}
	if _, _, err := b.Changes(t.Context(), "x1"); err == nil {
		t.Error("Changes with a malformed cursor succeeded")
	}
}
