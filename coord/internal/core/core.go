// Package core is coord's backend-independent half: it maps callers to
// roles, decides whose words are instructions, keeps each agent's inbox
// cursor, wakes waiting runners, renews the leases of live runners, and
// queues reports a backend could not take so they are delivered later. The
// transports (mcpserver for agents, api for the unix socket) call it; it
// calls a backend.Backend. Only coord imports it.
package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/clemhq/clem/coord/internal/backend"
	"github.com/clemhq/clem/coord/internal/boltdb"
	"github.com/clemhq/clem/coord/internal/config"
)

// DBFile is the name of coord's own database in the state directory.
const DBFile = "coord.db"

var (
	bCursors = []byte("cursors") // agent key -> inbox cursor
	bOutbox  = []byte("outbox")  // seq -> queued op
)

// Core is coord's shared state. Its methods are safe for concurrent use.
type Core struct {
	cfg *config.Config
	be  backend.Backend
	db  *bolt.DB
	now func() time.Time
	log *slog.Logger

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change

	kick     chan struct{} // wakes the outbox worker
	outboxMu sync.Mutex    // orders "queue is empty?" with enqueueing
}

// New opens coord.db in the config's state directory. now is the clock
// (time.Now in the daemon).
func New(cfg *config.Config, be backend.Backend, log *slog.Logger, now func() time.Time) (*Core, error) {
	path := filepath.Join(cfg.State.Dir, DBFile)
	db, err := boltdb.Open(path, bCursors, bOutbox, bQuota)
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bCursors, bOutbox, bQuota} {
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
	return &Core{cfg: cfg, be: be, db: db, now: now, log: log,
		changed: make(chan struct{}), kick: make(chan struct{}, 1)}, nil
}

// Config is the config the core was made with.
func (c *Core) Config() *config.Config { return c.cfg }

// Backend is the backend the core talks to.
func (c *Core) Backend() backend.Backend { return c.be }

// Close closes coord.db (not the backend).
func (c *Core) Close() error { return c.db.Close() }

// notify wakes every waiter: something may be new.
func (c *Core) notify() {
	c.mu.Lock()
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

func (c *Core) changedCh() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// Run keeps the outbox worker and the backend's Watch going until ctx is
// done. Watch is restarted with backoff after it fails.
func (c *Core) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.runOutbox(ctx) }()
	delay := c.cfg.RetryMin
	for {
		start := c.now()
		err := c.be.Watch(ctx, c.notify)
		if ctx.Err() != nil {
			break
		}
		if time.Since(start) > c.cfg.RetryMax {
			delay = c.cfg.RetryMin
		}
		c.log.Warn("backend watch stopped; restarting", "backend", c.be.Kind(), "err", err, "in", delay)
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		delay = min(delay*2, c.cfg.RetryMax)
	}
	wg.Wait()
	return nil
}

// Healthy reports whether coord.db answers; the watchdog probe.
func (c *Core) Healthy() error {
	return c.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bOutbox) == nil {
			return errors.New("coord.db has no outbox bucket")
		}
		return nil
	})
}
