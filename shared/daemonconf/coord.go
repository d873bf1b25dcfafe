package daemonconf

import "github.com/clemhq/clem/shared/tomlconf"

// Coord is coord.toml (docs/coord.md). At most one of GitHub, Slack and
// Discord is set: the section of Backend.
type Coord struct {
	Project string `toml:"project"`
	// Backend is local, github, slack or discord.
	Backend string `toml:"backend"`
	// Operators are the people whose words count as instructions: names
	// (GitHub login, Slack or Discord user name, OS user name for the local
	// board) or the backend's user ids. Everyone else's text reaches agents
	// fenced and marked untrusted.
	Operators []string `toml:"operators"`

	Lease   CoordLease   `toml:"lease,omitempty"`
	MCP     CoordMCP     `toml:"mcp"`
	Socket  CoordSocket  `toml:"socket"`
	Admin   CoordAdmin   `toml:"admin"`
	State   CoordState   `toml:"state"`
	Audit   Audit        `toml:"audit"`
	Retry   CoordRetry   `toml:"retry,omitempty"`
	Secrets CoordSecrets `toml:"secrets,omitempty"`
	Limits  CoordLimits  `toml:"limits,omitempty"`

	GitHub  *CoordGitHub  `toml:"github"`
	Slack   *CoordSlack   `toml:"slack"`
	Discord *CoordDiscord `toml:"discord"`

	Agents []CoordAgent `toml:"agent"`
}

// CoordLease says how long a claim lasts without renewal.
type CoordLease struct {
	TTL tomlconf.Duration `toml:"ttl"` // default 30m
	// Heartbeat: a runner's POST /v1/heartbeat renews all its agent's
	// leases; nothing else is configured here.
}

// CoordMCP is the agents' endpoint.
type CoordMCP struct {
	Listen string `toml:"listen"` // loopback host:port, required
	// MaxBodyBytes bounds one request body; a larger one is refused (413)
	// before the MCP library reads it. Default 256 KiB: a tool call's
	// text is at most 32 KiB, JSON escaping may grow it six-fold.
	MaxBodyBytes int        `toml:"max_body_bytes,omitzero"`
	Conns        CoordConns `toml:"conns,omitempty"` // default 32 per agent, 512 in all
}

// CoordSocket is the unix API for runners, the watchdog and operators.
type CoordSocket struct {
	Path         string     `toml:"path"`            // absolute, required
	WatchdogUIDs []uint32   `toml:"watchdog_uids"`   // may POST alerts
	OperatorUIDs []uint32   `toml:"operator_uids"`   // may use task ops; root (0) always may
	Conns        CoordConns `toml:"conns,omitempty"` // default 16 per uid, 256 in all
}

// CoordLimits bound what one agent may write through coord (posts,
// comments, status updates with their notes), so a flooding or
// prompt-injected agent cannot bury the others' inboxes or fill the disk.
// Counts are kept in coord.db per agent, so a restart does not reset
// them. 0 takes the default; there is no "unlimited".
type CoordLimits struct {
	// MaxTextBytes bounds one post, comment or note; default and most
	// coordapi.MaxText (32 KiB).
	MaxTextBytes int `toml:"max_text_bytes"`
	// WritesPerHour: posts, comments and updates per agent per hour
	// (default 120).
	WritesPerHour int `toml:"writes_per_hour"`
	// BytesPerHour: their text per agent per hour (default 1 MiB).
	BytesPerHour int `toml:"bytes_per_hour"`
	// BytesPerDay: their text per agent per day, which bounds how fast one
	// agent can grow what the board stores (default 8 MiB).
	BytesPerDay int `toml:"bytes_per_day"`
	// OutboxMax bounds the reports coord keeps while the backend is down
	// (default 1000), OutboxPerAgent one agent's share (default 100).
	OutboxMax      int `toml:"outbox_max"`
	OutboxPerAgent int `toml:"outbox_per_agent"`
}

// CoordConns caps the connections open at once on a listener, per caller
// uid and in total; a connection over either cap is refused at accept.
// There is no "unlimited": 0 takes the default.
type CoordConns struct {
	PerUID int `toml:"per_uid"`
	Total  int `toml:"total"`
}

// CoordAdmin is coord's admin socket (GET /healthz, GET /metrics, POST
// /reload) for the watchdog and operators; unlike the unix API beside it,
// no agent may connect to it.
type CoordAdmin struct {
	Socket string `toml:"socket"` // absolute; empty serves none (coord run by hand)
}

// CoordState is where the local board and coord's own bookkeeping live.
type CoordState struct {
	Dir string `toml:"dir"` // absolute, required
}

// CoordRetry tunes the backoff for backend errors.
type CoordRetry struct {
	Min tomlconf.Duration `toml:"min"` // default 2s
	Max tomlconf.Duration `toml:"max"` // default 5m
}

// CoordSecrets says where token files are read when
// $CREDENTIALS_DIRECTORY (systemd's LoadCredential=) is not set, for
// running coord by hand.
type CoordSecrets struct {
	Dir string `toml:"dir"`
}

// CoordGitHub configures the github backend.
type CoordGitHub struct {
	Repo   string      `toml:"repo"`              // owner/name
	APIURL string      `toml:"api_url,omitempty"` // default https://api.github.com/ (tests point it at a fake)
	Token  string      `toml:"token"`             // secret name, default github_token
	Labels CoordLabels `toml:"labels"`
	// PollInterval is the conditional (ETag) poll period, default 30s.
	PollInterval tomlconf.Duration `toml:"poll_interval,omitempty"`
}

// CoordLabels are the GitHub labels of tasks and their states.
type CoordLabels struct {
	Task       string `toml:"task,omitempty"`        // default clem
	InProgress string `toml:"in_progress,omitempty"` // default in-progress
	Blocked    string `toml:"blocked,omitempty"`     // default blocked
	Alert      string `toml:"alert,omitempty"`       // default clem-alert
}

// CoordSlack configures the slack backend.
type CoordSlack struct {
	TasksChannel  string `toml:"tasks_channel"`       // channel id, C...
	AlertsChannel string `toml:"alerts_channel"`      // channel id
	APIURL        string `toml:"api_url,omitempty"`   // default https://slack.com/api/
	Token         string `toml:"token"`               // bot token secret, default slack_bot_token
	AppToken      string `toml:"app_token,omitempty"` // Socket Mode secret, default slack_app_token
}

// CoordDiscord configures the discord backend.
type CoordDiscord struct {
	ServerID      string `toml:"server_id"`             // guild snowflake
	TasksChannel  string `toml:"tasks_channel"`         // forum or text channel snowflake
	AlertsChannel string `toml:"alerts_channel"`        // text channel snowflake
	APIURL        string `toml:"api_url,omitempty"`     // default https://discord.com/api/
	GatewayURL    string `toml:"gateway_url,omitempty"` // default: asked from the API
	Token         string `toml:"token"`                 // bot token secret, default discord_token
}

// CoordAgent maps an agent to the uid it runs as.
type CoordAgent struct {
	Key  string `toml:"key"`  // the agent's key in clem.yaml; tasks name agents by it
	Name string `toml:"name"` // display name, default key
	UID  uint32 `toml:"uid"`
}
