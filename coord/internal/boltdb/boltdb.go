// Package boltdb opens coord's embedded databases (the local board, coord's
// own state, a remote backend's change feed) one way: mode 0600, the
// buckets made, and a second coord on the same file failing after a second
// instead of waiting for its lock forever. Only coord imports it.
package boltdb

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// lockTimeout bounds the wait for another process's lock on the file.
const lockTimeout = time.Second

// Open opens (creating) the database at path with buckets.
func Open(path string, buckets ...[]byte) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w (is another coord running on this state directory?)", path, err)
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
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}
