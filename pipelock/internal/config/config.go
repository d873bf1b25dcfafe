// Package config loads pipelock's TOML config strictly and compiles it into
// the values the proxy decides with. Only pipelock imports it.
package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/clemhq/clem/shared/daemonconf"
	"github.com/clemhq/clem/shared/hostpattern"
	"github.com/clemhq/clem/shared/tomlconf"
)

// The file's types are the contract clem provision writes to
// (shared/daemonconf); this package checks them and compiles the policies.
type (
	// File is the TOML document as written.
	File = daemonconf.Pipelock
	// Listen says where pipelock listens.
	Listen = daemonconf.PipelockListen
	// Audit says where the audit log goes.
	Audit = daemonconf.PipelockAudit
	// Limits bound what one caller can hold of pipelock.
	Limits = daemonconf.PipelockLimits
	// Upstream tunes outbound connections.
	Upstream = daemonconf.PipelockUpstream
	// Vault is the agent-vault hand-off.
	Vault = daemonconf.PipelockVault
	// Resolve pins a host:port to an address, like curl --resolve. The
	// address is the operator's choice, so the SSRF guard does not apply
	// to it; every other policy check does.
	Resolve = daemonconf.Resolve
	// PolicyFile is one client's policy as written (also the default policy).
	PolicyFile = daemonconf.PipelockPolicy
	// Client is a named caller, identified by the uid that owns its socket.
	Client = daemonconf.PipelockClient
)

// Defaults for [limits] and the audit flood keys left at zero. The
// connection caps fit the fd limit systemd gives a service (each tunnel
// takes two descriptors) with room for a dozen agents at full cap.
const (
	DefaultMaxConnsPerUID = 256
	DefaultMaxConns       = 4096
	DefaultHeaderTimeout  = 10 * time.Second
	DefaultMaxHeaderBytes = 64 << 10
	DefaultFloodRecords   = 1000
	DefaultFloodWindow    = time.Minute
)

// Config is a validated, compiled config.
type Config struct {
	File    File
	Default *Policy
	ByUID   map[uint32]*Policy
	Clients []*Policy
	Resolve map[string]netip.AddrPort // "host:port" -> address
	SNI     bool
	Dial    time.Duration
	Idle    time.Duration
	Hello   time.Duration
	Source  string

	// Compiled [limits] and audit flood keys, defaults applied. A zero cap
	// means none (only tests set one; the file cannot).
	ConnsPerUID    int
	ConnsTotal     int
	HeaderTimeout  time.Duration
	MaxHeaderBytes int
	FloodRecords   int
	FloodWindow    time.Duration
}

// Policy is one client's compiled policy.
type Policy struct {
	Name        string
	Domains     hostpattern.List
	Ports       map[int]bool
	HTTPDomains hostpattern.List
	HTTPPorts   map[int]bool
	IPRanges    []netip.Prefix
	AllowRanges []netip.Prefix
	Brokered    hostpattern.List
	Rate        float64
	Burst       int
	BudgetBytes int64
	BudgetEvery time.Duration
}

// Load reads and validates the config at path.
func Load(path string) (*Config, error) { return tomlconf.LoadChecked(path, compile) }

// Parse validates data as a config named file.
func Parse(file string, data []byte) (*Config, error) {
	return tomlconf.DecodeChecked(file, data, compile)
}

func compile(file string, _ []byte, f File) (*Config, error) { return Compile(file, f) }

// Compile validates f and builds the decision structures. Every problem is
// reported, one per line.
func Compile(file string, f File) (*Config, error) {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, file+": "+fmt.Sprintf(format, args...)) }
	c := &Config{File: f, ByUID: map[uint32]*Policy{}, Resolve: map[string]netip.AddrPort{}, Source: file}

	if f.Listen.Proxy == "" {
		bad("listen.proxy is required (a loopback address such as 127.0.0.1:3128)")
	} else {
		checkLoopback(bad, "listen.proxy", f.Listen.Proxy)
	}
	if f.Listen.Transparent != "" {
		checkLoopback(bad, "listen.transparent", f.Listen.Transparent)
	}
	if f.Listen.Admin != "" && !strings.HasPrefix(f.Listen.Admin, "/") {
		bad("listen.admin %q must be an absolute unix socket path", f.Listen.Admin)
	}
	switch f.Upstream.SNI {
	case "", "require":
		c.SNI = true
	case "off":
	default:
		bad("upstream.sni %q: want require or off", f.Upstream.SNI)
	}
	c.Dial = orDefault(f.Upstream.DialTimeout.Duration, 10*time.Second)
	c.Idle = orDefault(f.Upstream.IdleTimeout.Duration, 5*time.Minute)
	c.Hello = orDefault(f.Upstream.HelloTimeout.Duration, 10*time.Second)
	if f.Audit.MaxSizeMB < 0 || f.Audit.Keep < 0 {
		bad("audit.max_size_mb and audit.keep must not be negative")
	}
	compileLimits(bad, f, c)

	for i, r := range f.Resolve {
		h, err := hostpattern.CanonicalHost(r.Host)
		if err != nil {
			bad("resolve[%d].host %q: %v", i, r.Host, err)
			continue
		}
		ap, err := netip.ParseAddrPort(r.Address)
		if err != nil {
			bad("resolve[%d].address %q: want ip:port", i, r.Address)
			continue
		}
		if r.Port < 1 || r.Port > 65535 {
			bad("resolve[%d].port %d is not a TCP port", i, r.Port)
			continue
		}
		c.Resolve[fmt.Sprintf("%s:%d", h, r.Port)] = ap
	}

	var def PolicyFile // no [default]: the empty policy
	if f.Default != nil {
		def = *f.Default
	}
	c.Default = compilePolicy(bad, "default", "default", def)
	names := map[string]bool{}
	for i, cl := range f.Clients {
		where := fmt.Sprintf("client[%d]", i)
		if cl.Name == "" || cl.Name == "default" || cl.Name == "unknown" {
			bad("%s.name %q: every client needs a name other than default or unknown", where, cl.Name)
		}
		if names[cl.Name] {
			bad("%s.name %q is used twice", where, cl.Name)
		}
		names[cl.Name] = true
		if len(cl.UIDs) == 0 {
			bad("%s (%s): uids is empty; a client is identified only by the uid owning its socket", where, cl.Name)
		}
		p := compilePolicy(bad, where, cl.Name, cl.PipelockPolicy)
		c.Clients = append(c.Clients, p)
		for _, u := range cl.UIDs {
			if prev, ok := c.ByUID[u]; ok {
				bad("%s: uid %d already belongs to client %s", where, u, prev.Name)
			}
			c.ByUID[u] = p
		}
	}
	if len(def.Brokered) > 0 {
		bad("default.brokered: only named clients can be brokered (agent-vault needs the agent's identity)")
	}
	if f.Vault.Socket == "" {
		for _, p := range c.Clients {
			if len(p.Brokered) > 0 {
				bad("client %s has brokered hosts but vault.socket is not set", p.Name)
				break
			}
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return c, nil
}

func compilePolicy(bad func(string, ...any), where, name string, pf PolicyFile) *Policy {
	p := &Policy{Name: name, Ports: map[int]bool{}, HTTPPorts: map[int]bool{}, Rate: pf.Rate, Burst: pf.Burst, BudgetBytes: pf.BudgetBytes}
	var err error
	if p.Domains, err = hostpattern.ParseList(pf.Domains); err != nil {
		bad("%s.domains: %v", where, err)
	}
	if p.HTTPDomains, err = hostpattern.ParseList(pf.HTTPDomains); err != nil {
		bad("%s.http_domains: %v", where, err)
	}
	if p.Brokered, err = hostpattern.ParseList(pf.Brokered); err != nil {
		bad("%s.brokered: %v", where, err)
	}
	ports, httpPorts := pf.Ports, pf.HTTPPorts
	if ports == nil {
		ports = []int{443}
	}
	if httpPorts == nil {
		httpPorts = []int{80}
	}
	for _, set := range []struct {
		key string
		in  []int
		out map[int]bool
	}{{"ports", ports, p.Ports}, {"http_ports", httpPorts, p.HTTPPorts}} {
		for _, n := range set.in {
			if n < 1 || n > 65535 {
				bad("%s.%s: %d is not a TCP port", where, set.key, n)
			}
			set.out[n] = true
		}
	}
	p.IPRanges = prefixes(bad, where+".ip_ranges", pf.IPRanges)
	p.AllowRanges = prefixes(bad, where+".allow_ranges", pf.AllowRanges)
	if pf.Rate < 0 || pf.Burst < 0 || pf.BudgetBytes < 0 {
		bad("%s: rate, burst and budget_bytes must not be negative", where)
	}
	if p.Rate > 0 && p.Burst == 0 {
		p.Burst = max(1, int(p.Rate))
	}
	p.BudgetEvery = orDefault(pf.BudgetEvery.Duration, 24*time.Hour)
	return p
}

// compileLimits applies the defaults: every limit is on, and none can be
// turned off from the file (a limit of 0 means the default, not unlimited).
func compileLimits(bad func(string, ...any), f File, c *Config) {
	l := f.Limits
	for _, v := range []struct {
		key string
		n   int
	}{
		{"limits.max_conns_per_uid", l.MaxConnsPerUID}, {"limits.max_conns", l.MaxConns},
		{"limits.max_header_bytes", l.MaxHeaderBytes}, {"audit.flood_records", f.Audit.FloodRecords},
	} {
		if v.n < 0 {
			bad("%s %d must not be negative (0 means the default)", v.key, v.n)
		}
	}
	if l.HeaderTimeout.Duration < 0 || f.Audit.FloodWindow.Duration < 0 {
		bad("limits.header_timeout and audit.flood_window must not be negative (0 means the default)")
	}
	c.ConnsPerUID = orDefaultInt(l.MaxConnsPerUID, DefaultMaxConnsPerUID)
	c.ConnsTotal = orDefaultInt(l.MaxConns, DefaultMaxConns)
	if c.ConnsPerUID > c.ConnsTotal {
		bad("limits.max_conns_per_uid %d is above limits.max_conns %d: one caller could take every connection", c.ConnsPerUID, c.ConnsTotal)
	}
	c.HeaderTimeout = orDefault(l.HeaderTimeout.Duration, DefaultHeaderTimeout)
	c.MaxHeaderBytes = orDefaultInt(l.MaxHeaderBytes, DefaultMaxHeaderBytes)
	if c.MaxHeaderBytes < 1024 {
		bad("limits.max_header_bytes %d is too small for a request line and Host header (want at least 1024)", c.MaxHeaderBytes)
	}
	c.FloodRecords = orDefaultInt(f.Audit.FloodRecords, DefaultFloodRecords)
	c.FloodWindow = orDefault(f.Audit.FloodWindow.Duration, DefaultFloodWindow)
}

func orDefaultInt(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

func prefixes(bad func(string, ...any), where string, ss []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			if a, aerr := netip.ParseAddr(s); aerr == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			} else {
				bad("%s: %q is not a CIDR (10.0.0.0/8, fd00::/8) or an address", where, s)
				continue
			}
		}
		out = append(out, p.Masked())
	}
	return out
}

func checkLoopback(bad func(string, ...any), key, addr string) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		bad("%s %q: want ip:port, e.g. 127.0.0.1:3128", key, addr)
		return
	}
	if !ap.Addr().IsLoopback() {
		bad("%s %q is not a loopback address: pipelock identifies callers by their local socket and must not listen beyond this host", key, addr)
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// PolicyFor returns the policy for a caller's uid, and whether the caller
// is a known client. Unknown callers get the default policy.
func (c *Config) PolicyFor(uid uint32, known bool) *Policy {
	if known {
		if p, ok := c.ByUID[uid]; ok {
			return p
		}
	}
	return c.Default
}
