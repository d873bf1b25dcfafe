package core

import (
	"bytes"
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// maxAlertIDs bounds the alert ids kept: a retry comes within minutes, and
// the oldest ids go first.
const maxAlertIDs = 4096

// alertTaken reports whether an alert with key was taken already.
func (c *Core) alertTaken(key []byte) bool {
	taken := false
	c.db.View(func(tx *bolt.Tx) error {
		taken = tx.Bucket(bAlertID).Get(key) != nil
		return nil
	})
	return taken
}

// takeAlert records key (delivered or queued, both durable), dropping the
// oldest ids past maxAlertIDs. A failed write is logged: the worst it does
// is let one retry through twice.
func (c *Core) takeAlert(key []byte) {
	var when [8]byte
	binary.BigEndian.PutUint64(when[:], uint64(c.now().UnixNano()))
	err := c.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bAlertID)
		if err := b.Put(key, when[:]); err != nil {
			return err
		}
		if n := b.Stats().KeyN; n > maxAlertIDs {
			return dropOldest(b, n-maxAlertIDs)
		}
		return nil
	})
	if err != nil {
		c.log.Warn("cannot record an alert's id; a retry of it may be sent twice", "err", err)
	}
}

// dropOldest deletes the n entries of b with the oldest times.
func dropOldest(b *bolt.Bucket, n int) error {
	type entry struct{ key, when []byte }
	var oldest []entry
	b.ForEach(func(k, v []byte) error {
		oldest = append(oldest, entry{bytes.Clone(k), bytes.Clone(v)})
		return nil
	})
	for range n {
		i := 0
		for j := range oldest {
			if bytes.Compare(oldest[j].when, oldest[i].when) < 0 {
				i = j
			}
		}
		if err := b.Delete(oldest[i].key); err != nil {
			return err
		}
		oldest = append(oldest[:i], oldest[i+1:]...)
	}
	return nil
}
