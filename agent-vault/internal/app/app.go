// Package app builds the agent-vault command line. The daemon's real work lands
// with issue #4; until then every command says so and exits non-zero.
package app

import (
	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/shared/cmdmain"
)

// New returns the agent-vault command-line application.
func New() *cli.App {
	return &cli.App{
		Name:  "agent-vault",
		Usage: "the broker that swaps an agent's placeholders for real credentials on the way out",
		Description: `agent-vault runs as its own user and holds the brokered secrets. For hosts a
secret is bound to, it terminates TLS with a name-constrained CA, replaces the
agent's placeholder with the real value (header, query, path or body, as bound)
and scrubs the secret from responses. It runs behind pipelock in clem, or alone
for any workload.

This release ships the command line only; the daemon itself arrives with
issue #4. Every command below exits with status 69 until then.`,
		HideHelpCommand: true,
		Commands: []*cli.Command{
			{
				Name:   "run",
				Usage:  "serve the broker from a TOML config (not yet: issue #4)",
				Action: cmdmain.NotYet("agent-vault run", "#4"),
			},
			{
				Name:   "check",
				Usage:  "validate a TOML config and exit (not yet: issue #4)",
				Action: cmdmain.NotYet("agent-vault check", "#4"),
			},
			{
				Name:   "ca",
				Usage:  "print the broker CA certificate for agents' trust stores (not yet: issue #4)",
				Action: cmdmain.NotYet("agent-vault ca", "#4"),
			},
		},
	}
}
