package config

import (
	"fmt"

	"github.com/clemhq/clem/agent-vault/internal/ghpolicy"
	"github.com/clemhq/clem/shared/daemonconf"
)

// compileGitHub compiles each agent's [[github]] policy. An agent may have
// one; it must also hold a placeholder, or the policy guards nothing.
func compileGitHub(gs []daemonconf.VaultGitHub, agents map[string]bool, bad func(string, ...any)) map[string]*ghpolicy.Policy {
	out := map[string]*ghpolicy.Policy{}
	for i, g := range gs {
		where := fmt.Sprintf("github[%d] (%s)", i, g.Agent)
		if g.Agent == "" {
			bad("github[%d]: agent is required", i)
			continue
		}
		if out[g.Agent] != nil {
			bad("%s: a second policy for agent %s; one per agent", where, g.Agent)
			continue
		}
		if !agents[g.Agent] {
			bad("%s: agent %s holds no placeholder here, so it has no GitHub credential to guard", where, g.Agent)
		}
		p, err := ghpolicy.Compile(g)
		if err != nil {
			bad("%s: %v", where, err)
			continue
		}
		out[g.Agent] = p
	}
	return out
}
