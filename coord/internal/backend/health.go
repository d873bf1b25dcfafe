package backend

import "context"

// Health is implemented by backends that keep what they serve on coord's
// disk (the local board; a remote backend's change feed). coord's health
// probe and its degraded state ask it; a backend without it is probed
// with a List.
type Health interface {
	// Probe is a small real read of what the backend stores, through the
	// same database the MCP and socket APIs read; it fails when that
	// database is closed or unreadable. A remote backend reads its local
	// journal, not the service: an outage of the service is waited out
	// with the outbox, and restarting coord would not end it.
	Probe(ctx context.Context) error
	// DiskFull is nil unless the backend's latest write failed because
	// its disk is full (boltdb.ErrDiskFull); it clears by itself once
	// space returns.
	DiskFull() error
}
