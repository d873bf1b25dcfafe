// Package app builds the coord command line. The daemon's real work lands
// with issue #6; until then every command says so and exits non-zero.
package app

import (
	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/shared/cmdmain"
)

// New returns the coord command-line application.
func New() *cli.App {
	return &cli.App{
		Name:  "coord",
		Usage: "brings tasks and alerts from Discord, Slack, GitHub Issues or a local board to agents",
		Description: `coord is the only holder of the coordination tokens. It serves agents an MCP
endpoint on loopback (list, claim, update, comment, message, inbox), identifies
each caller by its socket's owner uid, and gives runner and watchdog a unix
socket for inboxes, wake-ups and alerts.

This release ships the command line only; the daemon itself arrives with
issue #6. Every command below exits with status 69 until then.`,
		HideHelpCommand: true,
		Commands: []*cli.Command{
			{
				Name:   "run",
				Usage:  "serve coordination from a TOML config (not yet: issue #6)",
				Action: cmdmain.NotYet("coord run", "#6"),
			},
			{
				Name:   "check",
				Usage:  "validate a TOML config and exit (not yet: issue #6)",
				Action: cmdmain.NotYet("coord check", "#6"),
			},
		},
	}
}
