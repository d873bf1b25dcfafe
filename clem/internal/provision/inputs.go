package provision

import (
	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/clem/internal/units"
	"github.com/clemhq/clem/shared/secret"
)

// Inputs is what the desired state is computed from.
type Inputs struct {
	Cfg  *config.Config
	Proj layout.Project
	// UID looks a user up on the host; ok is false for a user that does
	// not exist yet (a dry run on a fresh host).
	UID func(user string) (uid uint32, ok bool)
	// Secret returns a vault value; ok is false when the vault lacks it.
	Secret func(name string) (secret.Value, bool)
	// PlaceholderKey makes placeholders stable across runs.
	PlaceholderKey []byte
	// VaultCA is agent-vault's CA certificate (PEM); nil until it exists.
	VaultCA []byte
	// SystemRoots is the host's CA bundle, the base of the agents' bundle.
	SystemRoots []byte
	// Units renders the unit files from UnitData; nil skips them.
	Units func(units.Data) (map[string][]byte, error)
}

func (in *Inputs) uid(user string) uint32 {
	if in.UID == nil {
		return 0
	}
	u, _ := in.UID(user)
	return u
}

// Roles the project needs: pipelock, coord and watchdog always; agent-vault
// when an agent has a brokered secret; one sidecar role (its own unit and
// user) per sidecar server an agent subscribes to.
func roles(cfg *config.Config) []string {
	var out []string
	for _, r := range layout.DaemonRoles {
		switch r {
		case layout.Vault:
			if len(brokeredSecrets(cfg)) == 0 {
				continue
			}
		case layout.MCP:
			for _, sc := range usedSidecars(cfg) {
				out = append(out, layout.SidecarRole(sc.Name))
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// sidecarOf is the sidecar server of a sidecar role.
func sidecarOf(cfg *config.Config, role string) *config.Sidecar {
	name, ok := layout.SidecarServer(role)
	if !ok {
		return nil
	}
	for _, sc := range cfg.Sidecars {
		if sc.Name == name {
			return sc
		}
	}
	return nil
}

// brokeredSecrets are the brokered secrets some agent uses.
func brokeredSecrets(cfg *config.Config) []*config.Secret {
	var out []*config.Secret
	for _, s := range cfg.UsedSecrets() {
		if s.Disposition == config.DispBrokered && len(agentsUsing(cfg, s.Name)) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// agentsUsing lists the agents that use secret name directly.
func agentsUsing(cfg *config.Config, name string) []*config.Agent {
	var out []*config.Agent
	for _, a := range cfg.Agents {
		for _, s := range a.SecretNames() {
			if s == name {
				out = append(out, a)
			}
		}
	}
	return out
}

// usedSidecars lists sidecars at least one agent subscribes to, in
// declaration order; their index is their port offset.
func usedSidecars(cfg *config.Config) []*config.Sidecar {
	var out []*config.Sidecar
	for _, s := range cfg.Sidecars {
		if len(cfg.SidecarAgents(s.Name)) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// sidecarIndex is a sidecar's position among the used ones (its port).
func sidecarIndex(cfg *config.Config, name string) int {
	for i, s := range usedSidecars(cfg) {
		if s.Name == name {
			return i
		}
	}
	return -1
}

func hasRole(cfg *config.Config, role string) bool {
	for _, r := range roles(cfg) {
		if r == role {
			return true
		}
	}
	return false
}
