package provision

import (
	"time"

	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/shared/daemonconf"
	"github.com/clemhq/clem/shared/egressstate"
	"github.com/clemhq/clem/shared/tomlconf"
)

// watchdogConfig lists every unit the watchdog reads and where each
// runner's state file is; alerts go to coord. Every daemon unit of the
// project is a [[daemon]], the egress unit included, so one that ends
// failed is an alert, not a silent outage; every daemon but the egress
// guard (a clem subcommand with no admin socket; its state file is
// egress_state) names its admin socket as health, so one that runs but
// fails its own probe is an alert too.
func watchdogConfig(in *Inputs) ([]byte, error) {
	cfg, p := in.Cfg, in.Proj
	cooldown := spelled(cfg.Watchdog.Cooldown)
	f := daemonconf.Watchdog{
		Project:     p.Name,
		Interval:    spelled(cfg.Watchdog.Interval),
		CoordSocket: p.CoordSocket(),
		StateFile:   p.WatchdogStateFile(),
		Admin:       daemonconf.WatchdogAdmin{Socket: p.AdminSocket(layout.Watchdog)},
		Alert:       daemonconf.WatchdogAlert{Failures: cfg.Watchdog.AlertAfter, Window: spelled(cfg.Watchdog.Window), Cooldown: &cooldown},
	}
	for _, a := range cfg.Agents {
		// The stall margin is computed, so it is written in Go's form.
		stall := tomlconf.Duration{Duration: a.StallTimeout.Duration + 5*time.Minute}
		f.Agents = append(f.Agents, daemonconf.WatchdogAgent{Key: a.Key, Unit: p.AgentUnit(a.Key), StateFile: p.AgentState(a.Key) + "/state.json", StallAfter: stall})
	}
	for _, r := range roles(cfg) {
		if r == layout.Watchdog {
			continue
		}
		f.Daemons = append(f.Daemons, daemonconf.WatchdogDaemon{Role: r, Unit: p.DaemonUnit(r), Health: p.AdminSocket(r)})
	}
	if anyPinned(cfg) {
		f.EgressState = egressstate.Path(p.Name)
		f.Daemons = append(f.Daemons, daemonconf.WatchdogDaemon{Role: "egress", Unit: p.EgressUnit()})
	}
	return encodeTOML(cfg.Path, f)
}
