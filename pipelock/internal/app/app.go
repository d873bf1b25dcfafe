// Package app builds the pipelock command line. The daemon's real work lands
// with issue #3; until then every command says so and exits non-zero.
package app

import (
	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/shared/cmdmain"
)

// New returns the pipelock command-line application.
func New() *cli.App {
	return &cli.App{
		Name:  "pipelock",
		Usage: "the auditing egress proxy every clem agent is pinned to",
		Description: `pipelock is an explicit (and optionally transparent) HTTP/HTTPS proxy on loopback.
It identifies each caller by the kernel (the owner uid of its socket), applies a
per-client allow-list of hosts and ports with an SSRF guard, hands brokered hosts
to agent-vault, and writes one JSON audit record per connection. It runs under
clem or alone as an audit proxy.

This release ships the command line only; the daemon itself arrives with
issue #3. Every command below exits with status 69 until then.`,
		HideHelpCommand: true,
		Commands: []*cli.Command{
			{
				Name:   "run",
				Usage:  "serve the proxy from a TOML config (not yet: issue #3)",
				Action: cmdmain.NotYet("pipelock run", "#3"),
			},
			{
				Name:   "check",
				Usage:  "validate a TOML config and exit (not yet: issue #3)",
				Action: cmdmain.NotYet("pipelock check", "#3"),
			},
		},
	}
}
