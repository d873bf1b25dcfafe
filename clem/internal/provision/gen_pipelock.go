package provision

import (
	"strconv"

	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/shared/daemonconf"
)

// pipelockConfig writes one client per pinned agent: its egress domains
// plus the hosts of its brokered secrets, which pipelock hands to
// agent-vault. Callers that are not agents get the empty default policy.
func pipelockConfig(in *Inputs) ([]byte, error) {
	cfg, p := in.Cfg, in.Proj
	a := audit(p, layout.Pipelock)
	f := daemonconf.Pipelock{
		Listen:   daemonconf.PipelockListen{Proxy: p.ProxyAddr(), Admin: p.AdminSocket(layout.Pipelock)},
		Audit:    daemonconf.PipelockAudit{Path: a.Path, MaxSizeMB: a.MaxSizeMB, Keep: a.Keep},
		Resolve:  resolves(cfg),
		Upstream: daemonconf.PipelockUpstream{SNI: "require"},
	}
	if cfg.Egress.Transparent {
		f.Listen.Transparent = "127.0.0.1:" + strconv.Itoa(p.TransparentPort())
	}
	if hasRole(cfg, layout.Vault) {
		f.Vault = daemonconf.PipelockVault{Socket: p.VaultSocket()}
	}
	for _, a := range cfg.Agents {
		e := a.EgressEff
		c := daemonconf.PipelockClient{
			Name: a.Key,
			UIDs: []uint32{in.uid(a.User)},
			// Rate and Burst are a token bucket on the agent's new
			// connections, so one agent's flood is refused before it
			// reaches the others' share.
			PipelockPolicy: daemonconf.PipelockPolicy{
				Domains:     append([]string{}, e.Domains...),
				Ports:       e.Ports,
				HTTPDomains: append([]string{}, e.HTTPDomains...),
				Brokered:    []string{},
				Rate:        float64(a.ResourceLimits.EgressRate),
				Burst:       a.ResourceLimits.EgressBurst,
			},
		}
		for _, s := range brokeredOf(cfg, a) {
			for _, h := range s.Hosts {
				c.Brokered = appendNew(c.Brokered, h)
				c.Domains = appendNew(c.Domains, h)
			}
		}
		f.Clients = append(f.Clients, c)
	}
	return encodeTOML(cfg.Path, f)
}

// brokeredOf lists the brokered secrets agent a uses.
func brokeredOf(cfg *config.Config, a *config.Agent) []*config.Secret {
	var out []*config.Secret
	for _, n := range a.SecretNames() {
		if s := cfg.Secret(n); s != nil && s.Disposition == config.DispBrokered {
			out = append(out, s)
		}
	}
	return out
}
