package daemonconf

import "github.com/clemhq/clem/shared/tomlconf"

// Pipelock is pipelock.toml (docs/pipelock.md).
type Pipelock struct {
	Listen PipelockListen `toml:"listen"`
	Audit  PipelockAudit  `toml:"audit"`
	Limits PipelockLimits `toml:"limits,omitempty"`
	// Vault is the agent-vault hand-off; provision writes it when an agent
	// has a brokered secret.
	Vault   PipelockVault `toml:"vault,omitempty"`
	Resolve []Resolve     `toml:"resolve,omitempty"`
	// Default is the policy of callers that are no client; nil (not
	// written) is the empty policy, which allows nothing.
	Default  *PipelockPolicy  `toml:"default"`
	Clients  []PipelockClient `toml:"client"`
	Upstream PipelockUpstream `toml:"upstream"`
}

// PipelockListen says where pipelock listens.
type PipelockListen struct {
	Proxy       string `toml:"proxy"`                 // explicit proxy, loopback host:port
	Transparent string `toml:"transparent,omitempty"` // optional, for nftables redirect
	Admin       string `toml:"admin"`                 // unix socket path for /healthz, /metrics, /reload
}

// PipelockAudit says where the audit log goes.
type PipelockAudit struct {
	Path      string `toml:"path"` // empty: stdout (journald under systemd)
	MaxSizeMB int    `toml:"max_size_mb"`
	Keep      int    `toml:"keep"`
	// A client's records of one decision past FloodRecords per FloodWindow
	// are counted into one summary record instead of written, so a flood
	// cannot rotate other clients' records away.
	FloodRecords int               `toml:"flood_records,omitzero"`
	FloodWindow  tomlconf.Duration `toml:"flood_window,omitempty"`
}

// PipelockLimits bound what one caller can hold of pipelock, so one
// agent's flood cannot take the file descriptors, memory or time another
// agent needs. Zero means the daemon's default.
type PipelockLimits struct {
	MaxConnsPerUID int               `toml:"max_conns_per_uid"` // concurrent connections per caller uid
	MaxConns       int               `toml:"max_conns"`         // concurrent connections, all callers
	HeaderTimeout  tomlconf.Duration `toml:"header_timeout"`    // to send a request line and headers
	MaxHeaderBytes int               `toml:"max_header_bytes"`  // request line plus headers
}

// PipelockUpstream tunes outbound connections.
type PipelockUpstream struct {
	DialTimeout  tomlconf.Duration `toml:"dial_timeout,omitempty"`
	IdleTimeout  tomlconf.Duration `toml:"idle_timeout,omitempty"`
	HelloTimeout tomlconf.Duration `toml:"hello_timeout,omitempty"`
	// SNI: "require" (the default) refuses a CONNECT to port 443 whose TLS
	// ClientHello lacks SNI or names another host; "off" skips the check.
	SNI string `toml:"sni"`
}

// PipelockVault is the agent-vault hand-off.
type PipelockVault struct {
	Socket string `toml:"socket"`
}

// PipelockPolicy is one client's policy as written (also the default
// policy).
type PipelockPolicy struct {
	Domains     []string `toml:"domains"`
	Ports       []int    `toml:"ports"`
	HTTPDomains []string `toml:"http_domains"`
	HTTPPorts   []int    `toml:"http_ports,omitempty"`
	IPRanges    []string `toml:"ip_ranges,omitempty"`    // IP-literal targets allowed (still SSRF-checked)
	AllowRanges []string `toml:"allow_ranges,omitempty"` // SSRF guard exceptions
	Brokered    []string `toml:"brokered"`               // hosts handed to agent-vault
	// Rate and Burst are a token bucket on the caller's new connections
	// (per second; 0 = unlimited), so one agent's flood is refused before
	// it reaches the others' share.
	Rate        float64           `toml:"rate"`
	Burst       int               `toml:"burst"`
	BudgetBytes int64             `toml:"budget_bytes,omitzero"` // bytes per budget_window; 0 = unlimited
	BudgetEvery tomlconf.Duration `toml:"budget_window,omitempty"`
}

// PipelockClient is a named caller, identified by the uid that owns its
// socket.
type PipelockClient struct {
	Name           string   `toml:"name"`
	UIDs           []uint32 `toml:"uids"`
	PipelockPolicy          // inline: the client's policy keys sit beside name and uids
}
