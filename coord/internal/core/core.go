// Package core is coord's backend-independent half: it maps callers to
// roles, decides whose words are instructions, keeps each agent's inbox
// cursor, wakes waiting runners, renews the leases of live runners, and
// queues reports a backend could not take so they are delivered later. The
// transports (mcpserver for agents, api for the unix socket) call it; it
// calls a backend.Backend. Only coord imports it.
package core

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clemhq/clem/coord/internal/backend"
	"github.com/clemhq/clem/coord/internal/boltdb"
	"github.com/clemhq/clem/coord/internal/config"
)

// DBFile is the name of coord's own database in the state directory.
const DBFile = "coord.db"

var (
	bCursors = []byte("cursors")   // agent key -> inbox cursor
	bOutbox  = []byte("outbox")    // seq -> queued op
	bAlertID = []byte("alert_ids") // author id + "/" + alert id -> when taken (unix nanoseconds)
)

// Core is coord's shared state. Its methods are safe for concurrent use.
type Core struct {
	cfg atomic.Pointer[config.Config] // swapped whole by SetConfig on a reload
	be  backend.Backend
	db  *boltdb.DB
	now func() time.Time
	log *slog.Logger

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change

	kick     chan struct{} // wakes the outbox worker
	outboxMu sync.Mutex    // orders "queue is empty?" with enqueueing
	alertMu  sync.Mutex    // one alert with a given id at a time
}

// New opens coord.db in the config's state directory. now is the clock
// (time.Now in the daemon).
func New(cfg *config.Config, be backend.Backend, log *slog.Logger, now func() time.Time) (*Core, error) {
	path := filepath.Join(cfg.State.Dir, DBFile)
	db, err := boltdb.Open(path, bCursors, bOutbox, bQuota, bAlertID)
	if err != nil {
		return nil, err
	}
	c := &Core{be: be, db: db, now: now, log: log, changed: make(chan struct{}), kick: make(chan struct{}, 1)}
	c.cfg.Store(cfg)
	return c, nil
}

// Config is the config in force: the one the core was made with, or the
// latest SetConfig. Read it once per decision, so one answer never mixes
// two configs.
func (c *Core) Config() *config.Config { return c.cfg.Load() }

// SetConfig puts cfg in force for every call from now on (a reload). The
// caller has checked that cfg changes only what can change live (see
// config.NeedRestart): the backend and the databases stay as they are.
func (c *Core) SetConfig(cfg *config.Config) {
	c.cfg.Store(cfg)
	c.notify() // waiters re-read what they may now see
}

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
	delay := c.Config().RetryMin
	for {
		start := c.now()
		err := c.be.Watch(ctx, c.notify)
		if ctx.Err() != nil {
			break
		}
		cfg := c.Config()
		if time.Since(start) > cfg.RetryMax {
			delay = cfg.RetryMin
		}
		c.log.Warn("backend watch stopped; restarting", "backend", c.be.Kind(), "err", err, "in", delay)
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		delay = max(min(delay*2, cfg.RetryMax), cfg.RetryMin)
	}
	wg.Wait()
	return nil
}
