package daemon

import (
	"fmt"
	"log/slog"

	"github.com/clemhq/clem/runner/internal/config"
	"github.com/clemhq/clem/runner/internal/confine"
)

// confineBinds keeps the runner and everything it will start off the
// project's port block (reserved_ports), before tmux or any CLI runs. It
// returns a warning for STATUS when the kernel or the unit cannot enforce
// it: the agent still runs (refusing would stop every agent on an older
// kernel), but nobody should believe the block is safe. An error means
// enforcement was possible and failed: the runner does not start.
func confineBinds(cfg *config.Config, log *slog.Logger) (warning string, err error) {
	b := cfg.ReservedPorts
	if b == nil {
		log.Info("no reserved_ports in runner.toml: the agent's binds are not confined")
		return "", nil
	}
	r, err := confine.Apply(confine.Ports{First: uint16(b.First), Last: uint16(b.Last)})
	if err != nil {
		return "", fmt.Errorf("agent %s: %w", cfg.Agent, err)
	}
	if w := r.Warning(); w != "" {
		log.Warn("the agent can bind the project's reserved ports", "agent", cfg.Agent, "ports", r.Ports.String(),
			"landlock_abi", r.ABI, "bind_rule", r.Bind, "mptcp_io_uring_refused", r.Protocols, "problem", w)
		return w, nil
	}
	log.Info("binds confined: the agent cannot bind the project's reserved ports", "agent", cfg.Agent,
		"ports", r.Ports.String(), "landlock_abi", r.ABI, "rules", r.Rules, "took", r.Took.String())
	return "", nil
}
