package daemonconf

import "github.com/clemhq/clem/shared/tomlconf"

// Watchdog is watchdog.toml (docs/watchdog.md).
type Watchdog struct {
	Project     string            `toml:"project"`
	Interval    tomlconf.Duration `toml:"interval"`
	CoordSocket string            `toml:"coord_socket"`
	// EgressState is the egress guard's state file
	// (shared/egressstate.Path); "" watches no guard (provision: no agent
	// is pinned). The [[daemon]] with role "egress" is the guard's unit.
	EgressState string `toml:"egress_state,omitempty"`
	// StateFile is where the watchdog keeps its alert state and the alerts
	// waiting for coord across its own restart, in its own state directory;
	// "" keeps them in memory only.
	StateFile string           `toml:"state_file"`
	Admin     WatchdogAdmin    `toml:"admin"`
	Alert     WatchdogAlert    `toml:"alert"`
	Agents    []WatchdogAgent  `toml:"agent"`
	Daemons   []WatchdogDaemon `toml:"daemon"`
}

// WatchdogAdmin is the watchdog's own admin socket: GET /healthz, GET
// /metrics, POST /reload.
type WatchdogAdmin struct {
	// Socket is the unix socket's path, in the watchdog's run directory,
	// which only its own user enters; "" serves none (a watchdog run by
	// hand).
	Socket string `toml:"socket"`
}

// WatchdogAlert is the alert policy.
type WatchdogAlert struct {
	// Failures is how many bad checks of one subject within Window raise
	// an alert. Consecutive bad checks count, and so do bad checks with
	// good ones between them: a flapping unit alerts too.
	Failures int               `toml:"failures"`
	Window   tomlconf.Duration `toml:"window"`
	// Cooldown keeps a subject from alerting again within this long of its
	// last alert, also after a recovery in between; nil when not written.
	Cooldown *tomlconf.Duration `toml:"cooldown"`
}

// WatchdogAgent is one agent to watch: its unit and its runner's state file.
type WatchdogAgent struct {
	Key        string            `toml:"key"`
	Unit       string            `toml:"unit"`
	StateFile  string            `toml:"state_file"`
	StallAfter tomlconf.Duration `toml:"stall_after"`
}

// WatchdogDaemon is one of the project's daemons: its unit and,
// optionally, a unix socket answering GET /healthz (the egress guard has
// none).
type WatchdogDaemon struct {
	Role   string `toml:"role"`
	Unit   string `toml:"unit"`
	Health string `toml:"health,omitempty"`
}
