// Package config loads sidecar's TOML config strictly, reads each server's
// secrets from the credentials directory and compiles the result into the
// values the daemon serves with. Only sidecar imports it.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/clemhq/clem/shared/daemonconf"
	"github.com/clemhq/clem/shared/secret"
	"github.com/clemhq/clem/shared/tomlconf"
)

// The file's types are the contract clem provision writes to
// (shared/daemonconf); this package checks them, reads the secrets and
// fills in defaults.
type (
	// File is the TOML document as written.
	File = daemonconf.Sidecar
	// Admin is the optional control socket.
	Admin = daemonconf.SidecarAdmin
	// Audit says where the audit log goes.
	Audit = daemonconf.Audit
	// Secrets says where the credential files are.
	Secrets = daemonconf.SidecarSecrets
	// Children says where each child gets its private working directory.
	Children = daemonconf.SidecarChildren
	// Client maps the uids the kernel reports to an agent name.
	Client = daemonconf.SidecarClient
	// Server is one MCP server sidecar serves on its own loopback port.
	Server = daemonconf.SidecarServer
	// SecretRef gives one secret to one server.
	SecretRef = daemonconf.SidecarSecretRef
)

// Identities.
const (
	Shared   = "shared"
	PerAgent = "per-agent"
)

// DefaultPath is the PATH a child gets unless its env sets one.
const DefaultPath = "/usr/local/bin:/usr/bin:/bin"

// DefaultCallTimeout bounds one tool call unless call_timeout says otherwise.
const DefaultCallTimeout = 5 * time.Minute

// Config is a validated, compiled config.
type Config struct {
	File    File
	Source  string
	Agents  map[uint32]string // uid -> agent name
	Servers []*ServerConfig
	// Limits is [limits] with every default filled in.
	Limits Limits
}

// ServerConfig is one compiled server.
type ServerConfig struct {
	Name        string
	Listen      string
	Command     []string // a stdio child, or
	URL         string   // an upstream Streamable HTTP server
	PerAgent    bool
	Agents      []string
	CallTimeout time.Duration
	Env         map[string]string // plain variables, PATH included
	Secrets     []Secret
}

// Secret is one secret value and where it goes.
type Secret struct {
	Name   string
	Value  secret.Value
	Env    string
	File   string
	Header string
	Prefix string
}

// Allowed reports whether agent may use s.
func (s *ServerConfig) Allowed(agent string) bool {
	return agent != "" && slices.Contains(s.Agents, agent)
}

// Load reads and validates the config at path.
func Load(path string) (*Config, error) { return tomlconf.LoadChecked(path, compile) }

// Parse validates data as a config named file.
func Parse(file string, data []byte) (*Config, error) {
	return tomlconf.DecodeChecked(file, data, compile)
}

func compile(file string, _ []byte, f File) (*Config, error) { return Compile(file, f) }

var (
	nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
	envRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Compile validates f, reads the secrets it names and builds the Config.
// Every problem is reported, one per line.
func Compile(file string, f File) (*Config, error) {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, file+": "+fmt.Sprintf(format, args...)) }
	c := &Config{File: f, Source: file, Agents: map[uint32]string{}}

	if s := f.Admin.Socket; s != "" && !strings.HasPrefix(s, "/") {
		bad("admin.socket %q must be an absolute unix socket path", s)
	}
	if f.Audit.MaxSizeMB < 0 || f.Audit.Keep < 0 {
		bad("audit.max_size_mb and audit.keep must not be negative")
	}
	if d := f.Children.Dir; d != "" && !strings.HasPrefix(d, "/") {
		bad("children.dir %q must be an absolute path", d)
	}
	c.Limits = Limits(f.Limits).withDefaults(bad)
	clients := map[string]bool{}
	for i, cl := range f.Clients {
		where := fmt.Sprintf("client[%d]", i)
		if !nameRE.MatchString(cl.Name) {
			bad("%s.name %q: want letters, digits, '_', '.' or '-' (the agent's name)", where, cl.Name)
		}
		if clients[cl.Name] {
			bad("%s.name %q is used twice", where, cl.Name)
		}
		clients[cl.Name] = true
		if len(cl.UIDs) == 0 {
			bad("%s (%s): uids is empty; an agent is known only by the uid owning its socket", where, cl.Name)
		}
		for _, u := range cl.UIDs {
			if prev, ok := c.Agents[u]; ok {
				bad("%s: uid %d already belongs to client %s", where, u, prev)
			}
			c.Agents[u] = cl.Name
		}
	}

	secretsDir := f.Secrets.Dir
	if secretsDir == "" {
		secretsDir = os.Getenv("CREDENTIALS_DIRECTORY")
	}
	names, listens := map[string]bool{}, map[string]string{}
	for i, s := range f.Servers {
		where := fmt.Sprintf("server[%d] (%s)", i, s.Name)
		sc := &ServerConfig{Name: s.Name, Listen: s.Listen, Command: s.Command, URL: s.URL, Agents: s.Agents, Env: map[string]string{"PATH": DefaultPath}}
		if !nameRE.MatchString(s.Name) {
			bad("server[%d].name %q: want letters, digits, '_', '.' or '-'", i, s.Name)
		}
		if names[s.Name] {
			bad("%s: name is used twice", where)
		}
		names[s.Name] = true
		if ap, err := netip.ParseAddrPort(s.Listen); err != nil {
			bad("%s.listen %q: want a loopback ip:port such as 127.0.0.1:3131", where, s.Listen)
		} else if !ap.Addr().IsLoopback() {
			bad("%s.listen %q is not a loopback address: callers are identified by their local socket, so sidecar never listens beyond this host", where, s.Listen)
		} else if prev, ok := listens[s.Listen]; ok && ap.Port() != 0 {
			bad("%s.listen %s is also server %s's", where, s.Listen, prev)
		}
		listens[s.Listen] = s.Name
		switch {
		case len(s.Command) > 0 && s.URL != "":
			bad("%s: set command or url, not both", where)
		case len(s.Command) > 0:
			if s.Command[0] == "" {
				bad("%s.command: the program is empty", where)
			}
		case s.URL != "":
			u, err := url.Parse(s.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad("%s.url %q: want an http:// or https:// URL of a Streamable HTTP MCP endpoint", where, s.URL)
			}
			if len(s.Env) > 0 {
				bad("%s.env: only a command server has an environment", where)
			}
		default:
			bad("%s: set command (a stdio MCP server) or url (an HTTP MCP server)", where)
		}
		switch s.Identity {
		case "", Shared:
		case PerAgent:
			sc.PerAgent = true
		default:
			bad("%s.identity %q: want shared or per-agent", where, s.Identity)
		}
		if len(s.Agents) == 0 {
			bad("%s.agents is empty: no agent could use it", where)
		}
		for _, a := range s.Agents {
			if !clients[a] {
				bad("%s.agents: %q is not a [[client]] name", where, a)
			}
		}
		sc.CallTimeout = s.CallTimeout.Duration
		if sc.CallTimeout == 0 {
			sc.CallTimeout = DefaultCallTimeout
		}
		for k, v := range s.Env {
			if !envRE.MatchString(k) {
				bad("%s.env: %q is not a variable name", where, k)
			}
			sc.Env[k] = v
		}
		envs, files := map[string]bool{}, map[string]bool{}
		for j, r := range s.Secrets {
			sw := fmt.Sprintf("%s.secret[%d] (%s)", where, j, r.Name)
			checkRef(bad, sw, s.URL != "", r, s.Env, envs, files)
			if r.Name != "" && !nameRE.MatchString(r.Name) {
				bad("%s: name %q must be a plain file name", sw, r.Name)
			}
			val, err := secret.ReadFile(secretsDir, r.Name)
			if err != nil {
				bad("%s: %v", sw, err)
			}
			sc.Secrets = append(sc.Secrets, Secret{Name: r.Name, Value: val, Env: r.Env, File: path.Clean(r.File), Header: r.Header, Prefix: r.Prefix})
			if r.File == "" {
				sc.Secrets[len(sc.Secrets)-1].File = ""
			}
		}
		c.Servers = append(c.Servers, sc)
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	return c, nil
}

// checkRef validates where one secret goes.
func checkRef(bad func(string, ...any), where string, upstream bool, r SecretRef, plain map[string]string, envs, files map[string]bool) {
	if upstream {
		if r.Env != "" || r.File != "" {
			bad("%s: an upstream url gets its secret in a header; env and file are for command servers", where)
		}
		if r.Header == "" || !validHeader(r.Header) {
			bad("%s.header %q: an upstream url needs a header name such as Authorization", where, r.Header)
		}
		return
	}
	if r.Header != "" || r.Prefix != "" {
		bad("%s: header and prefix are for url servers; give a command server env or file", where)
	}
	if r.Env == "" && r.File == "" {
		bad("%s: say where the child gets it: env = \"VAR\", file = \"name\", or both", where)
	}
	if r.Env != "" {
		if !envRE.MatchString(r.Env) {
			bad("%s.env %q is not a variable name", where, r.Env)
		}
		if _, ok := plain[r.Env]; ok || envs[r.Env] || r.Env == "PATH" || r.Env == "HOME" {
			bad("%s.env %s is set twice", where, r.Env)
		}
		envs[r.Env] = true
	}
	if r.File != "" {
		p := path.Clean(r.File)
		if path.IsAbs(r.File) || p == "." || p == ".." || strings.HasPrefix(p, "../") {
			bad("%s.file %q must be a relative path inside the child's directory", where, r.File)
		}
		if files[p] {
			bad("%s.file %s is written twice", where, p)
		}
		files[p] = true
	}
}

func validHeader(h string) bool {
	for _, r := range h {
		if !(r == '-' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return true
}
