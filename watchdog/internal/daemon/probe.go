package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/clemhq/clem/watchdog/internal/config"
	"github.com/clemhq/clem/watchdog/internal/systemd"
)

// Probe is the watchdog's health: what it exists to do still happens.
// Its check rounds keep finishing (the last ended less than two intervals
// and a round timeout ago: a loop that hangs is caught here), and systemd
// still answers over D-Bus through the same reader the rounds use (a
// closed or wedged reader fails it; it honours ctx, so a wedged bus makes
// it time out rather than hang).
func (wd *Watchdog) Probe(ctx context.Context) error {
	cfg := wd.cfg.Load()
	limit := 2*cfg.Interval + RoundTimeout(cfg.Interval)
	if end := wd.lastEnd.Load(); end == 0 {
		return errors.New("no check round has finished yet")
	} else if age := wd.d.Clock.Now().Sub(time.Unix(0, end)); age >= limit {
		return fmt.Errorf("no check round has finished for %v (more than 2 × interval + round timeout = %v): the check loop is stuck", age.Truncate(time.Second), limit)
	}
	unit := probeUnit(cfg)
	if _, err := wd.d.Units.Unit(ctx, unit); err != nil && (errors.Is(err, systemd.ErrBus) || ctx.Err() != nil) {
		// An error about the unit itself is systemd answering; only the
		// bus, or no answer in time, is the watchdog gone blind.
		return fmt.Errorf("cannot read systemd over D-Bus (unit %s): %w", unit, err)
	}
	return nil
}

// probeUnit is the unit the probe reads: the first one the config
// watches (it watches at least one).
func probeUnit(cfg *config.Config) string {
	if len(cfg.Agents) > 0 {
		return cfg.Agents[0].Unit
	}
	return cfg.Daemons[0].Unit
}
