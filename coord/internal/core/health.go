package core

import (
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/clemhq/clem/coord/internal/backend"
)

// Probe is the board half of coord's health probe: coord.db answers a
// read (inbox cursors and the outbox live there) and the backend answers
// a small real query through the database the APIs read (backend.Health,
// or a List when the backend has no Health). It returns when ctx ends
// even if a read is stuck behind a lock, so a wedged coord fails its
// probe instead of hanging it.
func (c *Core) Probe(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- c.probe(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("board query did not answer: %w", ctx.Err())
	}
}

func (c *Core) probe(ctx context.Context) error {
	err := c.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bOutbox) == nil || tx.Bucket(bCursors) == nil {
			return errors.New("buckets missing")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: read: %w", DBFile, err)
	}
	if h, ok := c.be.(backend.Health); ok {
		return h.Probe(ctx)
	}
	if _, err := c.be.List(ctx, backend.Filter{Holder: "\x00probe"}); err != nil {
		return fmt.Errorf("%s board: list tasks: %w", c.be.Kind(), err)
	}
	return nil
}

// DiskFull is nil unless the latest write to coord.db or to the board
// failed because the disk is full; then writes are refused with
// boltdb.ErrDiskFull while reads go on. It clears by itself when space
// returns.
func (c *Core) DiskFull() error {
	var errs []error
	if err := c.db.DiskFull(); err != nil {
		errs = append(errs, err)
	}
	if h, ok := c.be.(backend.Health); ok {
		if err := h.DiskFull(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
