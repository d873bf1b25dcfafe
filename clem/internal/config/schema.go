package config

import (
	"net/netip"
	"time"

	"github.com/clemhq/clem/shared/daemonconf"
)

// Config is a loaded, validated clem.yaml with defaults applied.
type Config struct {
	// Path is the file it was loaded from; Dir its directory, against which
	// relative paths (prompts) are resolved.
	Path string `yaml:"-"`
	Dir  string `yaml:"-"`

	Project      string       `yaml:"project"`
	Coordination Coordination `yaml:"coordination"`
	Egress       Egress       `yaml:"egress"`
	Agents       []*Agent     `yaml:"agents,keyed"`
	Secrets      []*Secret    `yaml:"secrets,keyed"`
	Sidecars     []*Sidecar   `yaml:"sidecars,keyed"`
	Runtimes     Runtimes     `yaml:"runtimes"`
	Watchdog     Watchdog     `yaml:"watchdog"`
	// ResourceLimits are every agent's defaults; an agent's own
	// resource_limits replace them key by key.
	ResourceLimits ResourceLimits `yaml:"resource_limits"`

	// Warnings are problems that do not stop the team from loading.
	Warnings Errors `yaml:"-"`
}

// Backends of the coordination section.
const (
	BackendLocal   = "local"
	BackendDiscord = "discord"
	BackendSlack   = "slack"
	BackendGitHub  = "github"
)

// Coordination says where people post tasks and where alerts go.
type Coordination struct {
	Backend   string   `yaml:"backend"`
	ServerID  string   `yaml:"server_id"` // discord
	Repo      string   `yaml:"repo"`      // github, owner/name
	Channels  Channels `yaml:"channels"`
	Labels    Labels   `yaml:"labels"`    // github
	Operators []string `yaml:"operators"` // who may assign work and give instructions
	// Token names the vault secret coord authenticates with; the default
	// depends on the backend (discord_token, slack_bot_token, github_token).
	Token string `yaml:"token"`
	// AppToken is Slack's app-level token for Socket Mode (default slack_app_token).
	AppToken string `yaml:"app_token"`
}

// Channels are the coordination channels (Discord, Slack).
type Channels struct {
	Tasks  string `yaml:"tasks"`
	Alerts string `yaml:"alerts"`
}

// Labels are the GitHub issue labels that mark tasks and their states.
type Labels struct {
	Task       string `yaml:"task"`
	InProgress string `yaml:"in_progress"`
	Blocked    string `yaml:"blocked"`
	Alert      string `yaml:"alert"`
}

// Egress is what agents may reach through pipelock.
type Egress struct {
	// Enabled pins agents' egress to pipelock. Default true; false is only
	// for trusted experiments and check warns about it.
	Enabled *bool `yaml:"enabled"`
	// Domains are host patterns: "host" exactly, "*.host" any subdomain
	// (not host itself).
	Domains []string `yaml:"domains"`
	// Ports allowed for HTTPS (CONNECT). Default [443].
	Ports []int `yaml:"ports"`
	// HTTPDomains may also be reached over plain HTTP on port 80.
	HTTPDomains []string `yaml:"http_domains"`
	// ProxyPort is pipelock's loopback port. Default 3128.
	ProxyPort int `yaml:"proxy_port"`
	// Transparent also redirects agents' TCP 80 and 443 to pipelock's
	// transparent listener, for tools that ignore HTTPS_PROXY.
	Transparent bool `yaml:"transparent"`
	// Resolve pins "host:port=ip:port" for pipelock and agent-vault, like
	// curl --resolve: for tests and demos that send real clients to local
	// fakes. Every policy check still applies.
	Resolve []string `yaml:"resolve"`
	// UpstreamCA is a PEM file agent-vault trusts for upstream TLS besides
	// the system roots (tests and demos); relative to clem.yaml.
	UpstreamCA string `yaml:"upstream_ca"`

	// ResolveMap is Resolve parsed: "host:port" -> "ip:port".
	ResolveMap map[string]netip.AddrPort `yaml:"-"`
}

// IsEnabled reports whether egress pinning is on.
func (e Egress) IsEnabled() bool { return e.Enabled == nil || *e.Enabled }

// AgentEgress overrides parts of the project's egress for one agent. A field
// that is set replaces the project's value; unset fields inherit it.
type AgentEgress struct {
	Enabled     *bool     `yaml:"enabled"`
	Domains     *[]string `yaml:"domains"`
	Ports       *[]int    `yaml:"ports"`
	HTTPDomains *[]string `yaml:"http_domains"`
}

// Runtimes an agent can run: the names are defined once, in
// shared/daemonconf, for this validation and for the runner.
const (
	RuntimeClaudeCode = daemonconf.RuntimeClaudeCode
	RuntimeCodex      = daemonconf.RuntimeCodex
	RuntimeOpenCode   = daemonconf.RuntimeOpenCode
	RuntimeCommand    = daemonconf.RuntimeCommand
)

// Agent is one member of the team; it becomes the OS user <project>-<key>.
type Agent struct {
	Key  string `yaml:"-"` // the key under agents:
	User string `yaml:"-"` // <project>-<key>

	Name           string         `yaml:"name"`
	Role           string         `yaml:"role"`
	Prompt         string         `yaml:"prompt"`
	Runtime        string         `yaml:"runtime"`
	Command        []string       `yaml:"command"`
	Model          string         `yaml:"model"`
	Effort         string         `yaml:"effort"`
	Provider       Provider       `yaml:"provider"`
	Iteration      Duration       `yaml:"iteration"`
	IterationNight Duration       `yaml:"iteration_night"`
	StallTimeout   Duration       `yaml:"stall_timeout"`
	MaxIteration   Duration       `yaml:"max_iteration"`
	BackoffMax     Duration       `yaml:"backoff_max"`
	Egress         AgentEgress    `yaml:"egress"`
	Secrets        []string       `yaml:"secrets"`
	Sidecars       []string       `yaml:"sidecars"`
	ResourceLimits ResourceLimits `yaml:"resource_limits"`
	GitName        string         `yaml:"git_name"`
	GitEmail       string         `yaml:"git_email"`
	// GitHub gives the agent its own GitHub identity and the policy
	// agent-vault holds it to; nil: no GitHub credential at all.
	GitHub *AgentGitHub `yaml:"github"`
	// ProjectSettings lets Claude Code load the settings a checkout carries
	// (.claude/settings.json and settings.local.json: hooks, permissions,
	// env). Off by default: a repository must not reprogram the agent.
	ProjectSettings bool `yaml:"project_settings"`

	// Resolved after validation.
	PromptText string `yaml:"-"` // the role prompt, inline or read from PromptFile
	PromptFile string `yaml:"-"` // absolute path when Prompt names a file
	EgressEff  Egress `yaml:"-"` // the project's egress with this agent's overrides
}

// Provider types.
const (
	ProviderAnthropic = "anthropic"
	ProviderBedrock   = "bedrock"
	ProviderVertex    = "vertex"
	ProviderOpenAI    = "openai" // any OpenAI-compatible URL
	ProviderOllama    = "ollama"
)

// Provider is where an agent's model runs. In YAML it is either a type name
// ("anthropic") or a mapping {type, url, credential}.
type Provider struct {
	Type string `yaml:"type"`
	URL  string `yaml:"url"`
	// Credential names the vault secret holding the model credential; it is
	// brokered to the provider's host. Default anthropic_api_key for
	// anthropic; none for ollama.
	Credential string `yaml:"credential"`
}

// ResourceLimits bound one agent so it cannot starve the others or the
// daemons: systemd's MemoryMax=, CPUQuota=, TasksMax= and LimitNOFILE= on
// its unit, and a token bucket on its new connections in pipelock. After
// loading, each agent's holds its effective values (its own, else the
// project's, else the defaults below); only cpu may stay empty (no quota).
type ResourceLimits struct {
	Memory      string `yaml:"memory"`       // e.g. 4G, 512M, 50%
	CPU         string `yaml:"cpu"`          // cores ("1.5") or a quota ("150%")
	Tasks       int    `yaml:"tasks"`        // processes and threads
	OpenFiles   int    `yaml:"open_files"`   // file descriptors per process
	EgressRate  int    `yaml:"egress_rate"`  // new connections per second through pipelock
	EgressBurst int    `yaml:"egress_burst"` // connections above the rate allowed at once
}

// Agent limits when neither the agent nor the project sets them.
const (
	DefaultMemory      = "50%" // of the host's RAM: one agent never takes it all
	DefaultTasks       = 2048  // a parallel build's threads, not a fork bomb
	DefaultOpenFiles   = 16384 // watchers and dev servers, not 24k idle sockets
	DefaultEgressRate  = 50    // new connections per second
	DefaultEgressBurst = 200
)

// Watchdog tunes how the watchdog checks and when it alerts.
type Watchdog struct {
	Interval   Duration `yaml:"interval"`    // between checks; default 15s
	AlertAfter int      `yaml:"alert_after"` // bad checks of one subject within window before an alert; default 3
	Window     Duration `yaml:"window"`      // default 30m
	Cooldown   Duration `yaml:"cooldown"`    // no repeat alert for a subject within this; default 1h
}

// Runtimes says where each runtime's CLI is installed on the host; an
// empty path lets the runner look on PATH (/usr/local/bin, /usr/bin).
type Runtimes struct {
	ClaudeCode string `yaml:"claude-code"`
	Codex      string `yaml:"codex"`
	OpenCode   string `yaml:"opencode"`
}

// Secret dispositions.
const (
	DispBrokered = "brokered" // agent holds a placeholder; agent-vault injects it for bound hosts
	DispSidecar  = "sidecar"  // only a sidecar MCP server gets it
	DispReveal   = "reveal"   // the raw value in the agent's environment (rare)
	DispCoord    = "coord"    // a coordination token, held by coord only
)

// Secret declares one vault entry and where it may go.
type Secret struct {
	Name string `yaml:"-"` // the key under secrets:

	Disposition string   `yaml:"disposition"`
	Hosts       []string `yaml:"hosts"`  // brokered: host patterns it is bound to
	Auth        string   `yaml:"auth"`   // brokered: bearer | basic | header; empty = substitute placeholder only
	Header      string   `yaml:"header"` // brokered with auth header: the header name
	Env         string   `yaml:"env"`    // variable holding the placeholder or value; default NAME in upper case

	// Implicit is true for secrets clem adds itself (the model credential,
	// the coordination token) when clem.yaml does not declare them.
	Implicit bool `yaml:"-"`
	// App is set on an agent's GitHub credential that agent-vault mints
	// from a GitHub App's key: the vault then holds App.Key, not the
	// secret itself.
	App *GitHubApp `yaml:"-"`
}

// Sidecar identities.
const (
	IdentityShared   = "shared"
	IdentityPerAgent = "per-agent"
)

// Sidecar is an MCP server that needs a raw key and runs as the sidecar user.
type Sidecar struct {
	Name string `yaml:"-"`

	Command  []string `yaml:"command"` // a stdio MCP server
	URL      string   `yaml:"url"`     // or an HTTP MCP server
	Secrets  []string `yaml:"secrets"`
	Identity string   `yaml:"identity"`
}

// Duration is a time.Duration written as "10m", "1h30m" or "90s".
type Duration struct{ time.Duration }

// String formats d compactly: "10m", "1h30m", "45s".
func (d Duration) String() string { return formatDuration(d.Duration) }
