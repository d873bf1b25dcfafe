package daemonconf

import "github.com/clemhq/clem/shared/tomlconf"

// Vault is agent-vault.toml (docs/agent-vault.md).
type Vault struct {
	Listen   VaultListen    `toml:"listen"`
	Trust    VaultTrust     `toml:"trust"`
	CA       VaultCA        `toml:"ca"`
	Secrets  VaultSecrets   `toml:"secrets,omitempty"`
	Upstream VaultUpstream  `toml:"upstream"`
	Audit    Audit          `toml:"audit"`
	Limits   VaultLimits    `toml:"limits,omitempty"`
	Resolve  []Resolve      `toml:"resolve,omitempty"`
	Clients  []VaultClient  `toml:"client,omitempty"`
	Bindings []VaultBinding `toml:"binding"`
	// GitHub holds one policy per agent with a GitHub credential:
	// agent-vault checks every request of that agent to github.com and
	// api.github.com against it before substituting (docs/github.md).
	GitHub []VaultGitHub `toml:"github,omitempty"`
	// Signer serves each agent's commit-signing key over the ssh-agent
	// protocol; the agent never holds the key.
	Signer VaultSigner `toml:"signer,omitempty"`
}

// VaultListen: a unix socket (for pipelock), optionally loopback TCP, and
// the admin socket (for the watchdog).
type VaultListen struct {
	Socket string `toml:"socket"`
	TCP    string `toml:"tcp,omitempty"`
	// Admin is the admin unix socket: GET /healthz (the same probe the
	// systemd watchdog pings on), GET /metrics, POST /reload. Empty: none.
	Admin string `toml:"admin"`
}

// VaultTrust names the proxies whose hand-off may speak for an agent.
type VaultTrust struct {
	// ProxyUIDs may connect to the socket and name the agent they carry
	// (pipelock's uid under clem). The header is believed only because the
	// kernel says the peer is one of these uids.
	ProxyUIDs []uint32 `toml:"proxy_uids"`
}

// VaultCA is where the broker CA lives.
type VaultCA struct {
	Dir string `toml:"dir"`
}

// VaultSecrets is where the secret files are: one file per secret, named
// after it.
type VaultSecrets struct {
	Dir string `toml:"dir"` // default $CREDENTIALS_DIRECTORY
}

// VaultUpstream tunes connections to the real hosts.
type VaultUpstream struct {
	CAFile      string            `toml:"ca_file,omitempty"` // extra CA trusted for upstream TLS
	HTTP2       bool              `toml:"http2,omitempty"`   // offer HTTP/2 upstream (default HTTP/1.1, pooled)
	DialTimeout tomlconf.Duration `toml:"dial_timeout,omitempty"`
}

// VaultLimits bound what one agent (and all together) may hold of the
// broker, so one agent's flood cannot take another's connections or
// memory. Zero means the daemon's default; there is no "unlimited".
type VaultLimits struct {
	ConnsPerAgent    int `toml:"conns_per_agent"`    // concurrent tunnels of one agent
	ConnsTotal       int `toml:"conns_total"`        // of all agents together
	RequestsPerAgent int `toml:"requests_per_agent"` // concurrent requests of one agent (HTTP/2 multiplexes many on one tunnel)
	RequestsTotal    int `toml:"requests_total"`
	MaxHeaderBytes   int `toml:"max_header_bytes"` // one request's header block
}

// VaultClient is a direct caller (standalone use, no proxy in between),
// identified by the uid owning its socket.
type VaultClient struct {
	Name string   `toml:"name"`
	UIDs []uint32 `toml:"uids"`
}

// VaultBinding ties a secret to the hosts (and methods, paths, surfaces)
// it may be sent to, and lists each agent's placeholder for it.
type VaultBinding struct {
	Name         string             `toml:"name"`
	Secret       string             `toml:"secret"`
	Hosts        []string           `toml:"hosts"`
	Methods      []string           `toml:"methods,omitempty"`
	PathPrefixes []string           `toml:"path_prefixes,omitempty"`
	Surfaces     []string           `toml:"surfaces,omitempty"`
	Auth         string             `toml:"auth,omitempty"`
	Header       string             `toml:"header,omitempty"`
	BasicUser    string             `toml:"basic_user,omitempty"`
	Placeholders []VaultPlaceholder `toml:"placeholder"`
	// GitHubApp, instead of Secret, makes the binding's secret a GitHub
	// App installation token that agent-vault mints from the App's key
	// and refreshes before it expires (docs/agent-vault.md).
	GitHubApp *VaultGitHubApp `toml:"github_app,omitempty"`
}

// VaultGitHubApp is a GitHub App installation whose tokens a binding hands
// out.
type VaultGitHubApp struct {
	AppID          int64 `toml:"app_id"`
	InstallationID int64 `toml:"installation_id"`
	// KeySecret names a file in the secrets directory: the App's PEM
	// private key, as GitHub's App settings download it.
	KeySecret string `toml:"key_secret"`
	// API is GitHub's REST API (default https://api.github.com; GitHub
	// Enterprise Server: https://HOST/api/v3).
	API string `toml:"api,omitempty"`
}

// VaultPlaceholder is one agent's stand-in for a binding's secret.
type VaultPlaceholder struct {
	Agent string `toml:"agent"`
	Value string `toml:"value"`
}

// VaultGitHub is one agent's GitHub policy. Repositories are "owner/name"
// (or "owner/*"); branches are patterns under refs/heads/ ("dev/*").
type VaultGitHub struct {
	Agent string `toml:"agent"`
	// Level is what the agent may do: read, pr (push its branches, open
	// and comment pull requests and issues), review, merge, admin.
	Level string `toml:"level"`
	// Read and Push are the repositories it may fetch from and push to
	// (Push implies Read).
	Read []string `toml:"read"`
	Push []string `toml:"push"`
	// Branches it may push; Protected ones never, whatever Branches say.
	Branches  []string `toml:"branches"`
	Protected []string `toml:"protected"`
	// Allow and Deny add or remove single operations (docs/github.md)
	// on top of Level.
	Allow []string `toml:"allow,omitempty"`
	Deny  []string `toml:"deny,omitempty"`
	// Force and Delete permit non-fast-forward updates and ref deletions
	// of allowed branches; Workflows permits pushing new content under
	// .github/workflows/.
	Force     bool `toml:"force"`
	Delete    bool `toml:"delete"`
	Workflows bool `toml:"workflows"`
	// MaxPackBytes bounds the pack agent-vault holds to check a push
	// (0: the default).
	MaxPackBytes int64 `toml:"max_pack_bytes,omitzero"`
}

// VaultSigner is the commit-signing agent: one unix socket, the caller's
// uid (SO_PEERCRED) picks its key; nobody may add, remove or export keys.
type VaultSigner struct {
	Socket string           `toml:"socket,omitempty"`
	Keys   []VaultSignerKey `toml:"key,omitempty"`
}

// VaultSignerKey is one agent's signing key: a secret (an OpenSSH private
// key) in the secrets directory, used only for callers of UID.
type VaultSignerKey struct {
	Agent  string `toml:"agent"`
	UID    uint32 `toml:"uid"`
	Secret string `toml:"secret"`
}
