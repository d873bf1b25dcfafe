package daemon

import "context"

// gate is a mutex whose lock can give up when a context ends: the health
// probe takes it like a reload does, so a reload or shutdown wedged while
// holding it fails the probe (and systemd restarts sidecar) instead of
// hanging the probe behind it.
type gate chan struct{}

func newGate() gate { return make(gate, 1) }

func (g gate) lock() { g <- struct{}{} }

func (g gate) lockCtx(ctx context.Context) error {
	select {
	case g <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g gate) unlock() { <-g }
