// Package app builds the watchdog command line. The daemon's real work lands
// with issue #7; until then every command says so and exits non-zero.
package app

import (
	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/shared/cmdmain"
)

// New returns the watchdog command-line application.
func New() *cli.App {
	return &cli.App{
		Name:  "watchdog",
		Usage: "watches a clem fleet and alerts after repeated failures",
		Description: `watchdog runs as its own unprivileged user. It reads agent unit state from
systemd over D-Bus (read-only) and each runner's state file, detects dead,
restarting, stalled or failing agents and missing egress rules, and alerts
through coord only after repeated failures, with a recovery message.

This release ships the command line only; the daemon itself arrives with
issue #7. Every command below exits with status 69 until then.`,
		HideHelpCommand: true,
		Commands: []*cli.Command{
			{
				Name:   "run",
				Usage:  "watch the fleet from its config (not yet: issue #7)",
				Action: cmdmain.NotYet("watchdog run", "#7"),
			},
		},
	}
}
