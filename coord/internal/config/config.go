// Package config loads coord.toml strictly (unknown keys are errors with
// file:line) and checks it: the backend and its section, the agents and the
// uids that identify them, the MCP listener, the unix socket and who may use
// it. `clem provision` writes the file; Example below is its reference. Only
// coord imports it.
package config

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/clemhq/clem/shared/coordapi"
	"github.com/clemhq/clem/shared/daemonconf"
	"github.com/clemhq/clem/shared/secret"
	"github.com/clemhq/clem/shared/tomlconf"
)

// Backends.
const (
	Local   = "local"
	GitHub  = "github"
	Slack   = "slack"
	Discord = "discord"
)

// The file's types are the contract clem provision writes to
// (shared/daemonconf); this package checks them and fills in defaults.
type (
	// File is coord.toml as written.
	File = daemonconf.Coord
	// Lease says how long a claim lasts without renewal.
	Lease = daemonconf.CoordLease
	// MCP is the agents' endpoint.
	MCP = daemonconf.CoordMCP
	// Socket is the unix API for runners, the watchdog and operators.
	Socket = daemonconf.CoordSocket
	// Limits bound what one agent may write through coord.
	Limits = daemonconf.CoordLimits
	// Conns caps the connections open at once on a listener.
	Conns = daemonconf.CoordConns
	// Admin is coord's admin socket.
	Admin = daemonconf.CoordAdmin
	// State is where the local board and coord's own bookkeeping live.
	State = daemonconf.CoordState
	// Audit says where the audit log goes.
	Audit = daemonconf.Audit
	// Retry tunes the backoff for backend errors.
	Retry = daemonconf.CoordRetry
	// Secrets says where token files are read when coord runs by hand.
	Secrets = daemonconf.CoordSecrets
	// GitHubSection configures the github backend.
	GitHubSection = daemonconf.CoordGitHub
	// Labels are the GitHub labels of tasks and their states.
	Labels = daemonconf.CoordLabels
	// SlackSection configures the slack backend.
	SlackSection = daemonconf.CoordSlack
	// DiscordSection configures the discord backend.
	DiscordSection = daemonconf.CoordDiscord
	// Agent maps an agent to the uid it runs as.
	Agent = daemonconf.CoordAgent
)

// Config is a checked coord.toml.
type Config struct {
	File
	Source   string
	LeaseTTL time.Duration
	RetryMin time.Duration
	RetryMax time.Duration
	MCPAddr  netip.AddrPort
	// ByUID and ByKey index the agents.
	ByUID map[uint32]*Agent
	ByKey map[string]*Agent
}

// Load reads and checks the config at path.
func Load(path string) (*Config, error) { return tomlconf.LoadChecked(path, check) }

// Parse checks data as a config named file.
func Parse(file string, data []byte) (*Config, error) {
	return tomlconf.DecodeChecked(file, data, check)
}

func check(file string, _ []byte, f File) (*Config, error) { return Check(file, f) }

var (
	keyRE     = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
	repoRE    = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
	slackIDRE = regexp.MustCompile(`^[CG][A-Z0-9]{8,}$`)
	snowRE    = regexp.MustCompile(`^[0-9]{17,20}$`)
)

// Check validates f and fills in defaults. Every problem is reported, one
// per line, with what to write instead.
func Check(file string, f File) (*Config, error) {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, file+": "+fmt.Sprintf(format, args...)) }
	c := &Config{File: f, Source: file, ByUID: map[uint32]*Agent{}, ByKey: map[string]*Agent{}}

	if !keyRE.MatchString(f.Project) {
		bad("project %q: want a lower-case name (letters, digits, - and _), as in clem.yaml", f.Project)
	}
	switch f.Backend {
	case "":
		c.Backend = Local
	case Local, GitHub, Slack, Discord:
	default:
		bad("backend %q: want local, github, slack or discord", f.Backend)
	}
	checkSections(bad, c)
	for i, op := range f.Operators {
		if strings.TrimSpace(op) == "" || op != strings.TrimSpace(op) {
			bad("operators[%d] %q: want a name or id without surrounding spaces", i, op)
		}
	}

	c.LeaseTTL = orDefault(f.Lease.TTL.Duration, 30*time.Minute)
	if c.LeaseTTL < time.Minute {
		bad("lease.ttl %v: want at least 1m, or a runner's heartbeat cannot keep up", c.LeaseTTL)
	}
	c.RetryMin = orDefault(f.Retry.Min.Duration, 2*time.Second)
	c.RetryMax = orDefault(f.Retry.Max.Duration, 5*time.Minute)
	if c.RetryMax < c.RetryMin {
		bad("retry.max %v is below retry.min %v", c.RetryMax, c.RetryMin)
	}

	if f.MCP.Listen == "" {
		bad("mcp.listen is required: a loopback address such as 127.0.0.1:3130")
	} else if ap, err := netip.ParseAddrPort(f.MCP.Listen); err != nil || !ap.Addr().IsLoopback() || ap.Port() == 0 {
		bad("mcp.listen %q: want a loopback ip:port such as 127.0.0.1:3130; agents reach coord only on loopback", f.MCP.Listen)
	} else {
		c.MCPAddr = ap
	}
	if !filepath.IsAbs(f.Socket.Path) {
		bad("socket.path %q: want an absolute path such as /run/clem/%s/coord/coord.sock", f.Socket.Path, f.Project)
	}
	if f.Admin.Socket != "" && !filepath.IsAbs(f.Admin.Socket) {
		bad("admin.socket %q: want an absolute path such as /run/clem/%s/coord/admin/admin.sock", f.Admin.Socket, f.Project)
	} else if f.Admin.Socket != "" && filepath.Clean(f.Admin.Socket) == filepath.Clean(f.Socket.Path) {
		bad("admin.socket %q is socket.path too: the admin socket needs a path of its own", f.Admin.Socket)
	}
	if !filepath.IsAbs(f.State.Dir) {
		bad("state.dir %q: want an absolute directory such as /var/lib/clem/%s/coord", f.State.Dir, f.Project)
	}
	if f.Secrets.Dir != "" && !filepath.IsAbs(f.Secrets.Dir) {
		bad("secrets.dir %q: want an absolute directory", f.Secrets.Dir)
	}
	c.MCP.MaxBodyBytes = orInt(bad, "mcp.max_body_bytes", f.MCP.MaxBodyBytes, DefaultMaxBody, 64<<10)
	c.MCP.Conns = conns(bad, "mcp.conns", f.MCP.Conns, Conns{PerUID: 32, Total: 512})
	c.Socket.Conns = conns(bad, "socket.conns", f.Socket.Conns, Conns{PerUID: 16, Total: 256})
	checkLimits(bad, c)
	if f.Audit.MaxSizeMB < 0 || f.Audit.Keep < 0 {
		bad("audit.max_size_mb and audit.keep must not be negative")
	}

	special := map[uint32]string{0: "root"}
	for _, u := range f.Socket.WatchdogUIDs {
		special[u] = "socket.watchdog_uids"
	}
	for _, u := range f.Socket.OperatorUIDs {
		if special[u] == "socket.watchdog_uids" {
			bad("uid %d is in both socket.watchdog_uids and socket.operator_uids", u)
		}
		special[u] = "socket.operator_uids"
	}
	if len(f.Agents) == 0 {
		bad("no [[agent]]: coord serves agents; list each with key and uid")
	}
	for i := range f.Agents {
		a := &c.Agents[i]
		where := fmt.Sprintf("agent[%d]", i)
		if !keyRE.MatchString(a.Key) {
			bad("%s.key %q: want the agent's key from clem.yaml (lower-case letters, digits, - and _)", where, a.Key)
		}
		if a.Name == "" {
			a.Name = a.Key
		}
		if c.ByKey[a.Key] != nil {
			bad("%s.key %q is used twice", where, a.Key)
		}
		if o, ok := c.ByUID[a.UID]; ok {
			bad("%s (%s): uid %d is also agent %s; each agent is its own user", where, a.Key, a.UID, o.Key)
		}
		if s, ok := special[a.UID]; ok {
			bad("%s (%s): uid %d is %s; an agent must be its own non-root user", where, a.Key, a.UID, s)
		}
		c.ByKey[a.Key], c.ByUID[a.UID] = a, a
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return c, nil
}

// checkSections requires the chosen backend's section, refuses the others'
// and fills in defaults.
func checkSections(bad func(string, ...any), c *Config) {
	present := map[string]bool{GitHub: c.GitHub != nil, Slack: c.Slack != nil, Discord: c.Discord != nil}
	for name, ok := range present {
		if ok && name != c.Backend {
			bad("[%s] is set but backend is %q; remove the section or set backend = %q", name, c.Backend, name)
		}
	}
	if c.Backend != Local && !present[c.Backend] {
		bad("backend %q needs its [%s] section", c.Backend, c.Backend)
		return
	}
	switch c.Backend {
	case GitHub:
		g := c.GitHub
		if !repoRE.MatchString(g.Repo) {
			bad("github.repo %q: want owner/name", g.Repo)
		}
		g.APIURL = orString(g.APIURL, "https://api.github.com/")
		g.Token = orString(g.Token, "github_token")
		g.Labels.Task = orString(g.Labels.Task, "clem")
		g.Labels.InProgress = orString(g.Labels.InProgress, "in-progress")
		g.Labels.Blocked = orString(g.Labels.Blocked, "blocked")
		g.Labels.Alert = orString(g.Labels.Alert, "clem-alert")
		g.PollInterval.Duration = orDefault(g.PollInterval.Duration, 30*time.Second)
		checkURL(bad, "github.api_url", g.APIURL)
		checkSecretName(bad, "github.token", g.Token)
	case Slack:
		s := c.Slack
		for k, v := range map[string]string{"slack.tasks_channel": s.TasksChannel, "slack.alerts_channel": s.AlertsChannel} {
			if !slackIDRE.MatchString(v) {
				bad("%s %q: want a Slack channel id such as C0123ABCDEF", k, v)
			}
		}
		s.APIURL = orString(s.APIURL, "https://slack.com/api/")
		s.Token = orString(s.Token, "slack_bot_token")
		s.AppToken = orString(s.AppToken, "slack_app_token")
		checkURL(bad, "slack.api_url", s.APIURL)
		checkSecretName(bad, "slack.token", s.Token)
		checkSecretName(bad, "slack.app_token", s.AppToken)
	case Discord:
		d := c.Discord
		for k, v := range map[string]string{"discord.server_id": d.ServerID, "discord.tasks_channel": d.TasksChannel, "discord.alerts_channel": d.AlertsChannel} {
			if !snowRE.MatchString(v) {
				bad("%s %q: want a Discord id (17-20 digits)", k, v)
			}
		}
		d.APIURL = orString(d.APIURL, "https://discord.com/api/")
		d.Token = orString(d.Token, "discord_token")
		checkURL(bad, "discord.api_url", d.APIURL)
		if d.GatewayURL != "" && !strings.HasPrefix(d.GatewayURL, "wss://") && !strings.HasPrefix(d.GatewayURL, "ws://") {
			bad("discord.gateway_url %q: want a ws:// or wss:// URL", d.GatewayURL)
		}
		checkSecretName(bad, "discord.token", d.Token)
	}
}

func checkURL(bad func(string, ...any), key, u string) {
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		bad("%s %q: want an http:// or https:// URL", key, u)
	}
}

var secretRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

func checkSecretName(bad func(string, ...any), key, name string) {
	if !secretRE.MatchString(name) || name == "." || name == ".." {
		bad("%s %q: want a secret name (letters, digits, _ . -), the credential file's name", key, name)
	}
}

// ReadSecret reads the token named name from $CREDENTIALS_DIRECTORY (set
// by systemd for LoadCredential=) or else from secrets.dir.
func (c *Config) ReadSecret(name string) (secret.Value, error) {
	dir := os.Getenv("CREDENTIALS_DIRECTORY")
	if dir == "" {
		dir = c.Secrets.Dir
	}
	if dir == "" {
		return secret.Value{}, fmt.Errorf("secret %s: neither $CREDENTIALS_DIRECTORY nor secrets.dir in %s is set", name, c.Source)
	}
	if !secretRE.MatchString(name) || name == "." || name == ".." {
		return secret.Value{}, fmt.Errorf("secret %q: not a valid secret name", name)
	}
	return secret.ReadFile(dir, name)
}

// IsOperator reports whether a person's name or backend id is listed in
// operators.
func (c *Config) IsOperator(name, id string) bool {
	for _, op := range c.Operators {
		if (name != "" && op == name) || (id != "" && op == id) {
			return true
		}
	}
	return false
}

// DefaultMaxBody is mcp.max_body_bytes when unset.
const DefaultMaxBody = 256 << 10

// orInt is v, or def when v is 0; below floor (or negative) is an error.
func orInt(bad func(string, ...any), key string, v, def, floor int) int {
	switch {
	case v == 0:
		return def
	case v < floor:
		bad("%s %d: want at least %d (or leave it out for %d)", key, v, floor, def)
	}
	return v
}

func checkLimits(bad func(string, ...any), c *Config) {
	l := &c.Limits
	l.MaxTextBytes = orInt(bad, "limits.max_text_bytes", l.MaxTextBytes, coordapi.MaxText, 1)
	if l.MaxTextBytes > coordapi.MaxText {
		bad("limits.max_text_bytes %d: at most %d (what runners and the API carry)", l.MaxTextBytes, coordapi.MaxText)
	}
	l.WritesPerHour = orInt(bad, "limits.writes_per_hour", l.WritesPerHour, 120, 1)
	l.BytesPerHour = orInt(bad, "limits.bytes_per_hour", l.BytesPerHour, 1<<20, l.MaxTextBytes)
	l.BytesPerDay = orInt(bad, "limits.bytes_per_day", l.BytesPerDay, 8<<20, l.BytesPerHour)
	l.OutboxMax = orInt(bad, "limits.outbox_max", l.OutboxMax, 1000, 1)
	l.OutboxPerAgent = orInt(bad, "limits.outbox_per_agent", l.OutboxPerAgent, 100, 1)
	if l.OutboxPerAgent > l.OutboxMax {
		bad("limits.outbox_per_agent %d is above limits.outbox_max %d", l.OutboxPerAgent, l.OutboxMax)
	}
}

func conns(bad func(string, ...any), key string, v, def Conns) Conns {
	v.PerUID = orInt(bad, key+".per_uid", v.PerUID, def.PerUID, 1)
	v.Total = orInt(bad, key+".total", v.Total, def.Total, 1)
	if v.Total < v.PerUID {
		bad("%s.total %d is below %s.per_uid %d", key, v.Total, key, v.PerUID)
	}
	return v
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
