package boltdb

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/clemhq/clem/shared/testutil/tinydisk"
)

// TestDiskFull: on a full tmpfs a write fails with ErrDiskFull (saying so
// and carrying the errno), what was stored stays readable, DiskFull
// reports it while the disk is full, and once space returns DiskFull
// clears by itself (its own write succeeds) and writes work again. The
// control: the same writes succeed before the disk is filled.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	bucket := []byte("b")
	var db *DB
	d, err := tinydisk.Mount(t, dir, 1<<20, func() (err error) {
		db, err = Open(filepath.Join(dir, "x.db"), bucket)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = func() error {
		n := 0
		put := func() error {
			return db.Update(func(tx *bolt.Tx) error {
				return tx.Bucket(bucket).Put(fmt.Appendf(nil, "%08d", n), make([]byte, 512))
			})
		}
		// Control: writes work while there is space.
		for ; n < 10; n++ {
			if err := put(); err != nil {
				return fmt.Errorf("write %d before the disk filled: %w", n, err)
			}
		}
		if err := db.DiskFull(); err != nil {
			return fmt.Errorf("DiskFull with space left = %v, want nil", err)
		}
		if err := d.Fill(); err != nil {
			return err
		}
		// Pages bbolt freed earlier may still take a write or two; every
		// new key needs space sooner or later.
		var werr error
		for limit := n + 4096; n < limit; n++ {
			if werr = put(); werr != nil {
				break
			}
		}
		stored := n
		switch {
		case werr == nil:
			return errors.New("4096 writes of 512 bytes succeeded on a full 1 MiB tmpfs")
		case !errors.Is(werr, ErrDiskFull) || !strings.Contains(werr.Error(), "board: disk full"):
			return fmt.Errorf("write on a full disk: %v, want board: disk full", werr)
		case !strings.Contains(werr.Error(), syscall.ENOSPC.Error()):
			return fmt.Errorf("write on a full disk: %v, want the errno (%v) in it", werr, syscall.ENOSPC)
		}
		if err := db.DiskFull(); !errors.Is(err, ErrDiskFull) {
			return fmt.Errorf("DiskFull on a full disk = %v, want ErrDiskFull", err)
		}
		// Reads keep working and nothing stored is lost.
		if got, err := count(db, bucket); err != nil || got != stored {
			return fmt.Errorf("on a full disk: %d keys readable (err %v), want %d", got, err, stored)
		}
		if err := d.Free(); err != nil {
			return err
		}
		if err := db.DiskFull(); err != nil {
			return fmt.Errorf("DiskFull after space returned = %v, want nil (its own write should succeed)", err)
		}
		if err := put(); err != nil {
			return fmt.Errorf("write after space returned: %w", err)
		}
		if got, err := count(db, bucket); err != nil || got != stored+1 {
			return fmt.Errorf("after recovery: %d keys readable (err %v), want %d", got, err, stored+1)
		}
		return db.View(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				return fmt.Errorf("bbolt consistency check after a full disk: %w", err)
			}
			return nil
		})
	}()
	if err != nil {
		t.Fatal(err)
	}
}

// TestFnErrorIsNotDiskFull: fn's own error comes back as is and does not
// mark the disk full.
func TestFnErrorIsNotDiskFull(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mine := fmt.Errorf("refused: %w", syscall.ENOSPC)
	if err := db.Update(func(*bolt.Tx) error { return mine }); err != mine {
		t.Errorf("Update = %v, want fn's error %v", err, mine)
	}
	if err := db.DiskFull(); err != nil {
		t.Errorf("DiskFull after fn's own error = %v, want nil", err)
	}
}

func count(db *DB, bucket []byte) (int, error) {
	n := 0
	err := db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(_, _ []byte) error { n++; return nil })
	})
	return n, err
}
