package boltdb

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// DB is a bolt database whose writes notice a full disk: Update wraps
// the failure as ErrDiskFull (with the errno) and DiskFull reports it
// until a write succeeds again.
type DB struct {
	*bolt.DB
	path string

	mu   sync.Mutex
	full error // the last commit's disk-full error; nil once one succeeded
}

// ErrDiskFull marks a write refused because the board's disk is full.
var ErrDiskFull = errors.New("board: disk full")

// bHealth holds the key DiskFull writes to see whether space returned.
var bHealth = []byte("health")

// Update runs fn in a write transaction like bolt's, and tells a commit
// that failed for lack of space from other failures.
func (db *DB) Update(fn func(*bolt.Tx) error) error {
	var fnErr error
	err := db.DB.Update(func(tx *bolt.Tx) error {
		fnErr = fn(tx)
		return fnErr
	})
	if err == nil {
		db.setFull(nil)
		return nil
	}
	if fnErr != nil || !isNoSpace(err) {
		// fn's own refusal, or a failure that says nothing about space.
		return err
	}
	full := fmt.Errorf("%w: cannot write %s: %w", ErrDiskFull, db.path, err)
	db.setFull(full)
	return full
}

// DiskFull is nil unless the latest write failed because the disk is
// full. While it did, each call tries a write of its own of checkBytes
// (then deletes it), so the condition clears by itself when space for a
// whole report returns, even if nobody writes meanwhile. A smaller check
// could pass on the few pages bbolt freed earlier while real writes
// still fail.
func (db *DB) DiskFull() error {
	db.mu.Lock()
	full := db.full
	db.mu.Unlock()
	if full == nil {
		return nil
	}
	key := []byte("write_check")
	err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bHealth)
		if err != nil {
			return err
		}
		return b.Put(key, make([]byte, checkBytes))
	})
	if err != nil {
		if !errors.Is(err, ErrDiskFull) {
			// Unwritable for another reason: keep saying why it was.
			return full
		}
		return err
	}
	db.DB.Update(func(tx *bolt.Tx) error { return tx.Bucket(bHealth).Delete(key) })
	return nil
}

// checkBytes is the size of DiskFull's write: a whole report (32 KiB of
// text) stored with its event, as the local board writes it.
const checkBytes = 64 << 10

func (db *DB) setFull(err error) {
	db.mu.Lock()
	db.full = err
	db.mu.Unlock()
}

// isNoSpace reports whether err is the kernel's "no space" or "quota
// exceeded". bbolt formats a failed grow with %s, which drops the errno
// from the chain, so its text is checked too.
func isNoSpace(err error) bool {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, syscall.ENOSPC.Error()) || strings.Contains(msg, syscall.EDQUOT.Error())
}
