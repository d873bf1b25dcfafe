package daemonconf

import "github.com/clemhq/clem/shared/tomlconf"

// Sidecar is sidecar.toml (docs/sidecar.md). clem provision writes one per
// sidecar server, each for its own unit.
type Sidecar struct {
	Admin    SidecarAdmin    `toml:"admin"`
	Audit    Audit           `toml:"audit"`
	Secrets  SidecarSecrets  `toml:"secrets,omitempty"`
	Children SidecarChildren `toml:"children"`
	Limits   SidecarLimits   `toml:"limits,omitempty"`
	Clients  []SidecarClient `toml:"client"`
	Servers  []SidecarServer `toml:"server"`
}

// SidecarAdmin is the optional control socket: GET /healthz, POST /reload.
type SidecarAdmin struct {
	Socket string `toml:"socket"`
}

// SidecarSecrets says where the credential files are: one file per
// secret, named after it.
type SidecarSecrets struct {
	Dir string `toml:"dir"` // default $CREDENTIALS_DIRECTORY
}

// SidecarChildren says where each child gets its private working
// directory.
type SidecarChildren struct {
	Dir string `toml:"dir"` // default $RUNTIME_DIRECTORY, else a private temporary directory
}

// SidecarLimits bound what one caller can make sidecar hold, on every
// server's port: bytes of a request, connections and MCP sessions per uid
// and in total, and how long a slow or idle caller keeps them. Zero means
// the daemon's default.
type SidecarLimits struct {
	MaxBodyBytes      int64             `toml:"max_body_bytes"`
	MaxHeaderBytes    int               `toml:"max_header_bytes"`
	HeaderTimeout     tomlconf.Duration `toml:"header_timeout"`
	BodyTimeout       tomlconf.Duration `toml:"body_timeout"`
	IdleTimeout       tomlconf.Duration `toml:"idle_timeout"`
	MaxConnsPerUID    int               `toml:"max_conns_per_uid"`
	MaxConns          int               `toml:"max_conns"`
	MaxSessionsPerUID int               `toml:"max_sessions_per_uid"`
	MaxSessions       int               `toml:"max_sessions"`
	SessionIdle       tomlconf.Duration `toml:"session_idle"`
}

// SidecarClient maps the uids the kernel reports to an agent name.
type SidecarClient struct {
	Name string   `toml:"name"`
	UIDs []uint32 `toml:"uids"`
}

// SidecarServer is one MCP server sidecar serves on its own loopback
// port: a stdio child (Command) or an upstream Streamable HTTP server
// (URL).
type SidecarServer struct {
	Name    string   `toml:"name"`
	Listen  string   `toml:"listen"`
	Command []string `toml:"command,omitempty"`
	URL     string   `toml:"url,omitempty"`
	// Identity is "shared" or "per-agent".
	Identity    string             `toml:"identity"`
	Agents      []string           `toml:"agents"`
	CallTimeout tomlconf.Duration  `toml:"call_timeout,omitempty"`
	Env         map[string]string  `toml:"env,omitempty"`
	Secrets     []SidecarSecretRef `toml:"secret,omitempty"`
}

// SidecarSecretRef gives one secret to one server: to a child as an
// environment variable, a file, or both (the variable then holds the
// file's path); to an upstream URL as a request header.
type SidecarSecretRef struct {
	Name   string `toml:"name"`
	Env    string `toml:"env,omitempty"`
	File   string `toml:"file,omitempty"`
	Header string `toml:"header,omitempty"`
	Prefix string `toml:"prefix,omitempty"`
}
