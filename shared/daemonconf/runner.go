package daemonconf

import "github.com/clemhq/clem/shared/tomlconf"

// Runner is runner.toml (docs/runner.md), root-owned and read-only to the
// agent. The pointer fields are nil when not written, so the runner can
// tell a key left out (its default) from one set to zero.
type Runner struct {
	Project string `toml:"project"`
	Agent   string `toml:"agent"`
	Name    string `toml:"name"`
	// Runtime is one of the Runtime* names.
	Runtime string `toml:"runtime"`
	// Command is the program and its arguments of runtime "command".
	Command        []string           `toml:"command,omitempty"`
	Model          string             `toml:"model,omitempty"`
	Effort         string             `toml:"effort,omitempty"`
	Iteration      tomlconf.Duration  `toml:"iteration"`
	IterationNight *tomlconf.Duration `toml:"iteration_night"`
	StallTimeout   tomlconf.Duration  `toml:"stall_timeout"`
	MaxIteration   tomlconf.Duration  `toml:"max_iteration"`
	BackoffMax     tomlconf.Duration  `toml:"backoff_max"`
	ClaudeBin      string             `toml:"claude_bin,omitempty"`
	PermissionMode string             `toml:"permission_mode"`
	PromptFile     string             `toml:"prompt_file"`
	MCPConfig      string             `toml:"mcp_config"`
	Settings       string             `toml:"settings"`
	// SettingSources is claude's --setting-sources: "user" keeps a
	// checkout's .claude/settings*.json (its hooks, permissions, env) from
	// loading; empty leaves the CLI's default (user, project, local).
	SettingSources string `toml:"setting_sources,omitempty"`
	StateDir       string `toml:"state_dir"`
	WorkDir        string `toml:"work_dir"`
	CoordSocket    string `toml:"coord_socket"`
	TmuxSession    string `toml:"tmux_session"`

	// Keys provision leaves to the runner's defaults.
	Night       *string            `toml:"night"`
	Jitter      *float64           `toml:"jitter"`
	MinGap      *tomlconf.Duration `toml:"min_gap"`
	KillGrace   tomlconf.Duration  `toml:"kill_grace,omitempty"`
	Heartbeat   tomlconf.Duration  `toml:"heartbeat,omitempty"`
	MaxTurns    int                `toml:"max_turns,omitzero"`
	Transcripts *int               `toml:"transcripts_keep"`
	TmuxBin     string             `toml:"tmux_bin,omitempty"`

	// ReservedPorts is the project's loopback port block; nil (standalone
	// use) confines nothing.
	ReservedPorts *RunnerPorts      `toml:"reserved_ports"`
	Git           RunnerGit         `toml:"git"`
	Env           map[string]string `toml:"env"`
}

// RunnerPorts is the project's block of loopback ports (its daemons'
// listeners), first and last included: the runner confines itself and the
// agent's processes so that no TCP bind in it succeeds.
type RunnerPorts struct {
	First int `toml:"first"`
	Last  int `toml:"last"`
}

// RunnerGit is the identity the agent's commits carry.
type RunnerGit struct {
	Name  string `toml:"name"`
	Email string `toml:"email"`
}
