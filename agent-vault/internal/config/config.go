// Package config loads agent-vault's TOML config strictly, reads the bound
// secrets from their directory and compiles the bindings. Only agent-vault
// imports it.
package config

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clemhq/clem/agent-vault/internal/ghpolicy"
	"github.com/clemhq/clem/agent-vault/internal/signer"
	"github.com/clemhq/clem/agent-vault/internal/subst"
	"github.com/clemhq/clem/shared/daemonconf"
	"github.com/clemhq/clem/shared/hostpattern"
	"github.com/clemhq/clem/shared/tomlconf"
)

// The file's types are the contract clem provision writes to
// (shared/daemonconf); this package checks them, reads the secrets and
// compiles the bindings.
type (
	// File is the TOML document.
	File = daemonconf.Vault
	// Listen: a unix socket, optionally loopback TCP, and the admin socket.
	Listen = daemonconf.VaultListen
	// Trust names the proxies whose hand-off may speak for an agent.
	Trust = daemonconf.VaultTrust
	// CA is where the broker CA lives.
	CA = daemonconf.VaultCA
	// Secrets is where the secret files are.
	Secrets = daemonconf.VaultSecrets
	// Upstream tunes connections to the real hosts.
	Upstream = daemonconf.VaultUpstream
	// Audit says where audit records go.
	Audit = daemonconf.Audit
	// Resolve pins host:port to an address, like curl --resolve.
	Resolve = daemonconf.Resolve
	// Client is a direct caller (standalone use, no proxy in between).
	Client = daemonconf.VaultClient
	// Binding ties a secret to the hosts it may be sent to.
	Binding = daemonconf.VaultBinding
	// Placeholder is one agent's stand-in for a binding's secret.
	Placeholder = daemonconf.VaultPlaceholder
)

// Limits bound what one agent (and all together) may hold of the broker,
// so one agent's flood cannot take another's connections or memory. The
// agent is the uid pipelock's hand-off names (or a direct client's uid).
// Zero means the default; there is no "unlimited". It is the contract's
// [limits] (shared/daemonconf), with withDefaults.
type Limits daemonconf.VaultLimits

// Defaults of [limits].
const (
	DefaultConnsPerAgent    = 64
	DefaultConnsTotal       = 1024
	DefaultRequestsPerAgent = 128
	DefaultRequestsTotal    = 2048
	DefaultMaxHeaderBytes   = 64 << 10
)

// withDefaults fills the zero fields.
func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.ConnsPerAgent, DefaultConnsPerAgent)
	def(&l.ConnsTotal, DefaultConnsTotal)
	def(&l.RequestsPerAgent, DefaultRequestsPerAgent)
	def(&l.RequestsTotal, DefaultRequestsTotal)
	def(&l.MaxHeaderBytes, DefaultMaxHeaderBytes)
	return l
}

// Config is validated and compiled.
type Config struct {
	File      File
	Engine    *subst.Engine
	Hosts     []string         // every bound host pattern, for the CA's constraints
	HostList  hostpattern.List // the same, parsed
	ProxyUIDs map[uint32]bool
	Clients   map[uint32]string
	Agents    map[string]bool
	Resolve   map[string]netip.AddrPort
	Dial      time.Duration
	Limits    Limits // with defaults filled in
	// SignerKeys are [signer]'s keys, read and parsed.
	SignerKeys []signer.Key
	// GitHub is each agent's compiled [[github]] policy.
	GitHub map[string]*ghpolicy.Policy
	// GitHubApps keep the tokens of the github_app bindings; idle until
	// Start.
	GitHubApps []*GitHubApp
}

// Load reads path and the secrets it names.
func Load(path string) (*Config, error) { return tomlconf.LoadChecked(path, compile) }

func compile(file string, _ []byte, f File) (*Config, error) { return Compile(file, f) }

// LoadCA reads what the CA needs from path: its directory and every bound
// host pattern, without the secrets. `agent-vault ca` uses it, so it runs
// as the vault's user before the unit's credentials exist.
func LoadCA(path string) (dir string, hosts []string, err error) {
	var f File
	if err := tomlconf.Load(path, &f); err != nil {
		return "", nil, err
	}
	if f.CA.Dir == "" {
		return "", nil, fmt.Errorf("%s: ca.dir is required", path)
	}
	for i, b := range f.Bindings {
		list, err := hostpattern.ParseList(b.Hosts)
		if err != nil {
			return "", nil, fmt.Errorf("%s: binding[%d] (%s).hosts: %w", path, i, b.Name, err)
		}
		for _, h := range list {
			if !contains(hosts, h.String()) {
				hosts = append(hosts, h.String())
			}
		}
	}
	return f.CA.Dir, hosts, nil
}

// Compile validates f, reads its secrets and builds the engine. Every
// problem is reported, one per line.
func Compile(file string, f File) (*Config, error) {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, file+": "+fmt.Sprintf(format, args...)) }
	c := &Config{File: f, ProxyUIDs: map[uint32]bool{}, Clients: map[uint32]string{}, Agents: map[string]bool{}, Resolve: map[string]netip.AddrPort{}}
	if f.Listen.Socket == "" && f.Listen.TCP == "" {
		bad("listen: set socket (a unix socket path) or tcp (a loopback address)")
	}
	if f.Listen.Socket != "" && !filepath.IsAbs(f.Listen.Socket) {
		bad("listen.socket %q must be an absolute path", f.Listen.Socket)
	}
	if a := f.Listen.Admin; a != "" {
		switch {
		case !filepath.IsAbs(a):
			bad("listen.admin %q must be an absolute path (the admin unix socket)", a)
		case filepath.Clean(a) == filepath.Clean(f.Listen.Socket):
			bad("listen.admin %q is also listen.socket: the admin socket needs its own path", a)
		}
	}
	if f.Listen.TCP != "" {
		if ap, err := netip.ParseAddrPort(f.Listen.TCP); err != nil || !ap.Addr().IsLoopback() {
			bad("listen.tcp %q must be a loopback ip:port", f.Listen.TCP)
		}
	}
	if f.CA.Dir == "" {
		bad("ca.dir is required (where the broker CA and its key are kept, mode 0700)")
	}
	for _, u := range f.Trust.ProxyUIDs {
		c.ProxyUIDs[u] = true
	}
	for i, cl := range f.Clients {
		if cl.Name == "" || len(cl.UIDs) == 0 {
			bad("client[%d]: name and uids are required", i)
		}
		for _, u := range cl.UIDs {
			if c.ProxyUIDs[u] {
				bad("client[%d]: uid %d is also a trusted proxy", i, u)
			}
			c.Clients[u] = cl.Name
		}
	}
	c.Limits = Limits(f.Limits).withDefaults()
	for _, l := range []struct {
		name string
		v    int
	}{{"conns_per_agent", c.Limits.ConnsPerAgent}, {"conns_total", c.Limits.ConnsTotal}, {"requests_per_agent", c.Limits.RequestsPerAgent},
		{"requests_total", c.Limits.RequestsTotal}, {"max_header_bytes", c.Limits.MaxHeaderBytes}} {
		if l.v < 0 {
			bad("limits.%s = %d: want a positive number (0 or absent for the default)", l.name, l.v)
		}
	}
	c.Dial = f.Upstream.DialTimeout.Duration
	if c.Dial == 0 {
		c.Dial = 10 * time.Second
	}
	for i, r := range f.Resolve {
		h, err := hostpattern.CanonicalHost(r.Host)
		ap, aerr := netip.ParseAddrPort(r.Address)
		if err != nil || aerr != nil || r.Port < 1 || r.Port > 65535 {
			bad("resolve[%d]: want host (a DNS name), port and address (ip:port)", i)
			continue
		}
		c.Resolve[fmt.Sprintf("%s:%d", h, r.Port)] = ap
	}
	secretsDir := f.Secrets.Dir
	if secretsDir == "" {
		secretsDir = os.Getenv("CREDENTIALS_DIRECTORY")
	}
	var ghClient *http.Client // one for every github_app binding, made for the first
	client := func() *http.Client {
		if ghClient == nil {
			cl, err := upstreamClient(f, c.Resolve, c.Dial)
			if err != nil {
				bad("%v", err)
				cl = &http.Client{}
			}
			ghClient = cl
		}
		return ghClient
	}
	var bindings []*subst.Binding
	var placeholders []subst.Placeholder
	names := map[string]bool{}
	for i, b := range f.Bindings {
		where := fmt.Sprintf("binding[%d] (%s)", i, b.Name)
		if b.Name == "" || names[b.Name] {
			bad("%s: every binding needs a unique name", where)
		}
		names[b.Name] = true
		sb := &subst.Binding{Name: b.Name, Methods: upper(b.Methods), Auth: subst.AuthMode(b.Auth), AuthHeader: b.Header, BasicUser: b.BasicUser, Surfaces: map[subst.Surface]bool{}}
		hosts, err := hostpattern.ParseList(b.Hosts)
		if err != nil || len(hosts) == 0 {
			bad("%s.hosts: %v", where, orMissing(err))
		}
		sb.Hosts = hosts
		for _, h := range hosts {
			if !contains(c.Hosts, h.String()) {
				c.Hosts = append(c.Hosts, h.String())
				c.HostList = append(c.HostList, h)
			}
		}
		for _, p := range b.PathPrefixes {
			np, err := subst.NormalizePath(p)
			if err != nil || !strings.HasPrefix(np, "/") {
				bad("%s.path_prefixes: %q is not a clean absolute path", where, p)
			}
			sb.PathPrefixes = append(sb.PathPrefixes, np)
		}
		surfaces := b.Surfaces
		if len(surfaces) == 0 {
			surfaces = []string{string(subst.Header)}
		}
		for _, s := range surfaces {
			switch subst.Surface(s) {
			case subst.Header, subst.Query, subst.Path, subst.Body, subst.WebSocket:
				sb.Surfaces[subst.Surface(s)] = true
			default:
				bad("%s.surfaces: %q; allowed: header, query, path, body, websocket", where, s)
			}
		}
		switch b.Auth {
		case "", "bearer", "basic":
		case "header":
			if b.Header == "" {
				bad("%s: auth = \"header\" needs header = NAME", where)
			}
		default:
			bad("%s.auth %q: allowed: bearer, basic, header (or none)", where, b.Auth)
		}
		c.compileBindingSecret(where, b, sb, secretsDir, client, bad)
		bindings = append(bindings, sb)
		if len(b.Placeholders) == 0 {
			bad("%s: no [[binding.placeholder]]; a binding no agent holds a placeholder for is useless", where)
		}
		for _, p := range b.Placeholders {
			if p.Agent == "" || p.Value == "" {
				bad("%s: every placeholder needs agent and value", where)
				continue
			}
			c.Agents[p.Agent] = true
			placeholders = append(placeholders, subst.Placeholder{Value: p.Value, Agent: p.Agent, Binding: sb})
		}
	}
	if len(f.Bindings) == 0 {
		bad("no [[binding]]: agent-vault has nothing to broker")
	}
	c.SignerKeys = compileSigner(f.Signer, secretsDir, bad)
	c.GitHub = compileGitHub(f.GitHub, c.Agents, bad)
	if len(errs) == 0 {
		e, err := subst.NewEngine(bindings, placeholders)
		if err != nil {
			bad("bindings: %v", err)
		}
		c.Engine = e
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	return c, nil
}

func upper(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToUpper(s)
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func orMissing(err error) error {
	if err == nil {
		return errors.New("at least one host is required")
	}
	return err
}
