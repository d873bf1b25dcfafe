// Package config loads watchdog.toml strictly (syntax errors, wrong types
// and unknown keys are errors with file:line) and checks it: the check
// interval, the alert policy, the agents and daemons to watch. `clem
// provision` writes the file; Example is its reference. Only the watchdog
// imports it.
package config

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/clemhq/clem/shared/daemonconf"
	"github.com/clemhq/clem/shared/tomlconf"
)

// Defaults for keys left out.
const (
	DefaultInterval   = 15 * time.Second
	DefaultFailures   = 3
	DefaultWindow     = 30 * time.Minute
	DefaultCooldown   = time.Hour
	DefaultStallAfter = 25 * time.Minute
	// MinEgressStale is the least time the egress guard's last check may
	// be old before it counts as wedged (see EgressStaleAfter).
	MinEgressStale = 30 * time.Second
)

// EgressRole is the role of the [[daemon]] that runs the egress guard.
const EgressRole = "egress"

// The file's types are the contract clem provision writes to
// (shared/daemonconf); this package checks them and fills in defaults.
type (
	// File is watchdog.toml as written.
	File = daemonconf.Watchdog
	// Admin is the watchdog's own admin socket.
	Admin = daemonconf.WatchdogAdmin
	// Alert is the alert policy.
	Alert = daemonconf.WatchdogAlert
	// Agent is one agent to watch.
	Agent = daemonconf.WatchdogAgent
	// Daemon is one of the project's daemons.
	Daemon = daemonconf.WatchdogDaemon
)

// Config is a checked watchdog.toml with defaults filled in.
type Config struct {
	File
	Source   string
	Interval time.Duration
	Failures int
	Window   time.Duration
	Cooldown time.Duration
	// EgressStaleAfter is how old the guard's last check may be while its
	// unit runs: three rounds, at least MinEgressStale. The guard checks
	// every few seconds, so this is many of its periods.
	EgressStaleAfter time.Duration
}

// Load reads and checks the config at path.
func Load(path string) (*Config, error) { return tomlconf.LoadChecked(path, check) }

// Parse decodes data strictly and checks it; file names it in messages.
func Parse(file string, data []byte) (*Config, error) {
	return tomlconf.DecodeChecked(file, data, check)
}

var (
	nameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
	// unitRE: a unit name systemd accepts, of a service (the watchdog reads
	// the Service interface).
	unitRE = regexp.MustCompile(`^[A-Za-z0-9:_.\\@-]{1,240}\.service$`)
)

// check validates f and fills in defaults. Every problem is reported, one
// per line, as file:line: what, and what to write instead.
func check(file string, data []byte, f File) (*Config, error) {
	lines := strings.Split(string(data), "\n")
	var errs []string
	bad := func(line int, format string, args ...any) {
		at := file
		if line > 0 {
			at = fmt.Sprintf("%s:%d", file, line)
		}
		errs = append(errs, at+": "+fmt.Sprintf(format, args...))
	}
	top := func(key string) int { return keyLine(lines, 0, len(lines), key) }
	c := &Config{File: f, Source: file}

	if !nameRE.MatchString(f.Project) {
		bad(top("project"), "project %q: want the project's name from clem.yaml (lower-case letters, digits, - and _)", f.Project)
	}
	c.Interval = orDefault(f.Interval.Duration, DefaultInterval)
	if c.Interval < time.Second || c.Interval > 10*time.Minute {
		bad(top("interval"), "interval %v: want between 1s and 10m, such as 15s", c.Interval)
	}
	if !filepath.IsAbs(f.CoordSocket) || filepath.Clean(f.CoordSocket) != f.CoordSocket {
		bad(top("coord_socket"), "coord_socket %q: want coord's unix socket as a clean absolute path, such as /run/clem/%s/coord/coord.sock", f.CoordSocket, f.Project)
	}

	if a := f.Admin.Socket; a != "" && (!filepath.IsAbs(a) || filepath.Clean(a) != a) {
		ds, de := section(lines, "admin")
		bad(keyLine(lines, ds, de, "socket"), "admin.socket %q: want the watchdog's admin unix socket as a clean absolute path, such as /run/clem/%s/watchdog/admin.sock, or \"\" for none", a, f.Project)
	}
	if sf := f.StateFile; sf != "" && (!filepath.IsAbs(sf) || filepath.Clean(sf) != sf) {
		bad(top("state_file"), "state_file %q: want the watchdog's own state file as a clean absolute path, such as /var/lib/clem/%s/watchdog/state.json, or \"\" for none", sf, f.Project)
	}
	as, ae := section(lines, "alert")
	c.Failures = f.Alert.Failures
	if c.Failures == 0 {
		c.Failures = DefaultFailures
	}
	if c.Failures < 1 || c.Failures > 100 {
		bad(keyLine(lines, as, ae, "failures"), "alert.failures %d: want between 1 and 100", f.Alert.Failures)
	}
	c.Window = orDefault(f.Alert.Window.Duration, DefaultWindow)
	if c.Failures >= 1 && c.Window < time.Duration(c.Failures)*c.Interval {
		bad(keyLine(lines, as, ae, "window"), "alert.window %v is shorter than alert.failures × interval (%d × %v): no alert could ever be raised; make it at least %v",
			c.Window, c.Failures, c.Interval, time.Duration(c.Failures)*c.Interval)
	}
	c.Cooldown = DefaultCooldown
	if f.Alert.Cooldown != nil {
		c.Cooldown = f.Alert.Cooldown.Duration // "0s" is allowed: no cooldown
	}

	units := map[string]string{}
	useUnit := func(line int, who, unit string) {
		if !unitRE.MatchString(unit) {
			bad(line, "%s: unit %q: want a service unit name such as clem-%s-agent-lead.service", who, unit, f.Project)
			return
		}
		if other, ok := units[unit]; ok {
			bad(line, "%s: unit %q is also %s; each subject has its own unit", who, unit, other)
		}
		units[unit] = who
	}
	if len(f.Agents) == 0 && len(f.Daemons) == 0 {
		bad(0, "nothing to watch: add an [[agent]] or a [[daemon]]")
	}
	keys := map[string]bool{}
	for i := range c.Agents {
		a := &c.Agents[i]
		s, e := entry(lines, "agent", i)
		who := fmt.Sprintf("agent[%d] (%s)", i, a.Key)
		if !nameRE.MatchString(a.Key) {
			bad(keyLine(lines, s, e, "key"), "agent[%d].key %q: want the agent's key from clem.yaml (lower-case letters, digits, - and _)", i, a.Key)
		} else if keys[a.Key] {
			bad(keyLine(lines, s, e, "key"), "agent[%d].key %q is used twice", i, a.Key)
		}
		keys[a.Key] = true
		useUnit(keyLine(lines, s, e, "unit"), who, a.Unit)
		if !filepath.IsAbs(a.StateFile) || filepath.Clean(a.StateFile) != a.StateFile {
			bad(keyLine(lines, s, e, "state_file"), "%s: state_file %q: want the runner's state file as a clean absolute path, such as /var/lib/clem/%s/agents/%s/state.json", who, a.StateFile, f.Project, a.Key)
		}
		a.StallAfter.Duration = orDefault(a.StallAfter.Duration, DefaultStallAfter)
		if a.StallAfter.Duration < time.Minute {
			bad(keyLine(lines, s, e, "stall_after"), "%s: stall_after %v: want at least 1m (the runner's stall_timeout plus a margin)", who, a.StallAfter.Duration)
		}
	}
	roles := map[string]bool{}
	for i := range c.Daemons {
		d := &c.Daemons[i]
		s, e := entry(lines, "daemon", i)
		who := fmt.Sprintf("daemon[%d] (%s)", i, d.Role)
		if !nameRE.MatchString(d.Role) {
			bad(keyLine(lines, s, e, "role"), "daemon[%d].role %q: want a role name such as pipelock, vault or coord", i, d.Role)
		} else if roles[d.Role] {
			bad(keyLine(lines, s, e, "role"), "daemon[%d].role %q is used twice", i, d.Role)
		}
		roles[d.Role] = true
		useUnit(keyLine(lines, s, e, "unit"), who, d.Unit)
		if d.Health != "" && (!filepath.IsAbs(d.Health) || filepath.Clean(d.Health) != d.Health) {
			bad(keyLine(lines, s, e, "health"), "%s: health %q: want the daemon's admin unix socket as a clean absolute path, or \"\" for unit state only", who, d.Health)
		}
	}
	c.EgressStaleAfter = max(3*c.Interval, MinEgressStale)
	if f.EgressState != "" {
		if !filepath.IsAbs(f.EgressState) || filepath.Clean(f.EgressState) != f.EgressState {
			bad(top("egress_state"), "egress_state %q: want the egress guard's state file as a clean absolute path, such as /run/clem/%s/egress/state.json, or \"\" for none", f.EgressState, f.Project)
		} else if !roles[EgressRole] {
			bad(top("egress_state"), "egress_state is set but no [[daemon]] has role = %q: add the egress unit (clem-%s-egress.service) as that daemon, so that a silent guard is told from a stopped one", EgressRole, f.Project)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return c, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
