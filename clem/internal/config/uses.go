package config

import (
	"strings"

	"github.com/clemhq/clem/shared/hostpattern"
)

// secretNames lists every secret an agent uses directly: its model
// credential and its secrets: list.
func (a *Agent) secretNames() []string {
	var ns []string
	if a.Provider.Credential != "" {
		ns = append(ns, a.Provider.Credential)
	}
	for _, s := range a.Secrets {
		if s != a.Provider.Credential {
			ns = append(ns, s)
		}
	}
	if g := a.GitHub; g != nil && g.Credential != "" && !contains(ns, g.Credential) {
		ns = append(ns, g.Credential)
	}
	return ns
}

// SecretNames lists every secret the agent uses directly (model credential
// first), without duplicates.
func (a *Agent) SecretNames() []string { return a.secretNames() }

// SecretConsumers names who receives the secret: "agent lead", "sidecar pg",
// "coord".
func (c *Config) SecretConsumers(name string) []string {
	var out []string
	if name == c.Coordination.Token || name == c.Coordination.AppToken {
		out = append(out, "coord")
	}
	for _, a := range c.Agents {
		for _, s := range a.secretNames() {
			if s == name {
				out = append(out, "agent "+a.Key)
			}
		}
	}
	for _, sc := range c.Sidecars {
		for _, s := range sc.Secrets {
			if s == name {
				out = append(out, "sidecar "+sc.Name)
			}
		}
	}
	return out
}

// SidecarAgents lists the agents subscribed to a sidecar.
func (c *Config) SidecarAgents(name string) []string {
	var out []string
	for _, a := range c.Agents {
		for _, s := range a.Sidecars {
			if s == name {
				out = append(out, a.Key)
			}
		}
	}
	return out
}

// UsedSecrets lists, in declaration order, every secret something uses:
// these are the ones the vault must hold.
func (c *Config) UsedSecrets() []*Secret {
	var out []*Secret
	for _, s := range c.Secrets {
		if len(c.SecretConsumers(s.Name)) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// egressCovers reports whether host (a pattern) is reachable under e: an
// exact host matched by a domain, or a wildcard equal to or under one.
func egressCovers(e Egress, host string) bool {
	bare := strings.TrimPrefix(host, "*.")
	for _, d := range e.Domains {
		p, err := hostpattern.Parse(d)
		if err != nil {
			continue
		}
		if d == host || p.Match(bare) && (host == bare || strings.HasPrefix(d, "*.")) {
			return true
		}
	}
	return false
}
