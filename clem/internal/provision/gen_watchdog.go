package provision

import (
	"time"

	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/shared/egressstate"
)

// The watchdog.toml schema (docs/watchdog.md) provision writes.
type wdFile struct {
	Project     string `toml:"project"`
	Interval    string `toml:"interval"`
	CoordSocket string `toml:"coord_socket"`
	// EgressState is the egress guard's state file (shared/egressstate):
	// the watchdog alerts when the table was tampered with or the guard
	// went quiet. "" when no agent is pinned (no guard runs).
	EgressState string `toml:"egress_state,omitempty"`
	// StateFile keeps the watchdog's alert state and waiting alerts across
	// its restart, in its own state directory (ReadWritePaths= of its
	// unit).
	StateFile string     `toml:"state_file"`
	Admin     wdAdmin    `toml:"admin"`
	Alert     wdAlert    `toml:"alert"`
	Agents    []wdAgent  `toml:"agent"`
	Daemons   []wdDaemon `toml:"daemon"`
}

// wdAdmin is the watchdog's own admin socket (/healthz, /metrics,
// /reload), in its run directory, which only its own user enters.
type wdAdmin struct {
	Socket string `toml:"socket"`
}

type wdAlert struct {
	Failures int    `toml:"failures"`
	Window   string `toml:"window"`
	Cooldown string `toml:"cooldown"`
}

type wdAgent struct {
	Key        string `toml:"key"`
	Unit       string `toml:"unit"`
	StateFile  string `toml:"state_file"`
	StallAfter string `toml:"stall_after"`
}

type wdDaemon struct {
	Role   string `toml:"role"`
	Unit   string `toml:"unit"`
	Health string `toml:"health,omitempty"` // its admin socket; the egress guard has none
}

// watchdogConfig lists every unit the watchdog reads and where each
// runner's state file is; alerts go to coord. Every daemon unit of the
// project is a [[daemon]], the egress unit included, so one that ends
// failed is an alert, not a silent outage; every daemon but the egress
// guard (a clem subcommand with no admin socket; its state file is
// egress_state) names its admin socket as health, so one that runs but
// fails its own probe is an alert too.
func watchdogConfig(in *Inputs) ([]byte, error) {
	cfg, p := in.Cfg, in.Proj
	f := wdFile{
		Project:     p.Name,
		Interval:    cfg.Watchdog.Interval.String(),
		CoordSocket: p.CoordSocket(),
		StateFile:   p.WatchdogStateFile(),
		Admin:       wdAdmin{Socket: p.AdminSocket(layout.Watchdog)},
		Alert:       wdAlert{Failures: cfg.Watchdog.AlertAfter, Window: cfg.Watchdog.Window.String(), Cooldown: cfg.Watchdog.Cooldown.String()},
	}
	for _, a := range cfg.Agents {
		f.Agents = append(f.Agents, wdAgent{Key: a.Key, Unit: p.AgentUnit(a.Key), StateFile: p.AgentState(a.Key) + "/state.json", StallAfter: (a.StallTimeout.Duration + 5*time.Minute).String()})
	}
	for _, r := range roles(cfg) {
		if r == layout.Watchdog {
			continue
		}
		f.Daemons = append(f.Daemons, wdDaemon{Role: r, Unit: p.DaemonUnit(r), Health: p.AdminSocket(r)})
	}
	if anyPinned(cfg) {
		f.EgressState = egressstate.Path(p.Name)
		f.Daemons = append(f.Daemons, wdDaemon{Role: "egress", Unit: p.EgressUnit()})
	}
	return encodeTOML(cfg.Path, f)
}
