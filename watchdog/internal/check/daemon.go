package check

import (
	"time"

	"github.com/clemhq/clem/watchdog/internal/systemd"
)

// Daemon holds the rules' memory for one daemon.
type Daemon struct {
	Role string
	unit unitMemory
}

// Check judges one round: the unit's state (or the error reading it) and
// the answer of its health endpoint (nil: healthy or not configured).
func (d *Daemon) Check(_ time.Time, u systemd.State, uerr error, health error) []Problem {
	ps := d.unit.unit(u, uerr, false)
	if uerr == nil && u.Running() && health != nil {
		ps = append(ps, crit(KindHealth, "health check failed: %v", health))
	}
	return ps
}
