// Package app builds the sidecar command line. The daemon's real work lands
// with issue #8; until then every command says so and exits non-zero.
package app

import (
	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/shared/cmdmain"
)

// New returns the sidecar command-line application.
func New() *cli.App {
	return &cli.App{
		Name:  "sidecar",
		Usage: "runs tools that need a raw key as another user behind loopback MCP endpoints",
		Description: `sidecar starts MCP servers that need a raw credential (non-HTTP protocols,
in-process SDKs) as its own user, serves each on a loopback Streamable HTTP
endpoint and lets only the agents subscribed to it call its tools. Agents call
the tool; they never hold the key.

This release ships the command line only; the daemon itself arrives with
issue #8. Every command below exits with status 69 until then.`,
		HideHelpCommand: true,
		Commands: []*cli.Command{
			{
				Name:   "run",
				Usage:  "serve the configured MCP servers from a TOML config (not yet: issue #8)",
				Action: cmdmain.NotYet("sidecar run", "#8"),
			},
			{
				Name:   "check",
				Usage:  "validate a TOML config and exit (not yet: issue #8)",
				Action: cmdmain.NotYet("sidecar check", "#8"),
			},
		},
	}
}
