// Package boltdb opens coord's embedded databases (the local board, coord's
// own state, a remote backend's change feed) one way: mode 0600, the
// buckets made, and a second coord on the same file failing after a second
// instead of waiting for its lock forever. Its DB says when a write failed
// because the disk is full, so coord can refuse writes with that reason,
// keep serving reads, and report itself degraded until space returns.
// Only coord imports it.
package boltdb

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// lockTimeout bounds the wait for another process's lock on the file.
const lockTimeout = time.Second

// Open opens (creating) the database at path with buckets. When the
// buckets exist already it writes nothing, so coord still starts (and
// serves reads) on a disk that is full.
func Open(path string, buckets ...[]byte) (*DB, error) {
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w (is another coord running on this state directory?)", path, err)
	}
	db := &DB{DB: bdb, path: path}
	var missing bool
	db.View(func(tx *bolt.Tx) error {
		for _, b := range buckets {
			missing = missing || tx.Bucket(b) == nil
		}
		return nil
	})
	if !missing {
		return db, nil
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range buckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		bdb.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}
