// Package app builds the runner command line. The daemon's real work lands
// with issue #7; until then every command says so and exits non-zero.
package app

import (
	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/shared/cmdmain"
)

// New returns the runner command-line application.
func New() *cli.App {
	return &cli.App{
		Name:  "runner",
		Usage: "loops an agent's CLI (Claude Code first) headless in its tmux session",
		Description: `runner is the main process of one agent's systemd unit and runs as the agent's
user. On a timer (and early when coord reports new work) it runs the agent's CLI
headless in the agent's tmux session with the role prompt and inbox, watches the
event stream for stalls, records each iteration and reports health to systemd.

This release ships the command line only; the daemon itself arrives with
issue #7. Every command below exits with status 69 until then.`,
		HideHelpCommand: true,
		Commands: []*cli.Command{
			{
				Name:   "run",
				Usage:  "run the agent loop from its config (not yet: issue #7)",
				Action: cmdmain.NotYet("runner run", "#7"),
			},
		},
	}
}
