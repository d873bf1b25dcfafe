package boltdb

import (
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestOpen: the buckets exist, and a second opener of a locked file fails
// within about a second instead of hanging.
func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := Open(path, []byte("a"), []byte("b"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("a")) == nil || tx.Bucket([]byte("b")) == nil {
			t.Error("buckets missing")
		}
		return nil
	})
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		db2, err := Open(path)
		if err == nil {
			db2.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a second Open of a locked file succeeded")
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("a second Open took %v", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a second Open hangs on the lock")
	}
}
