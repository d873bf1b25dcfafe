// Package app builds the watchdog command line: run and check.
package app

import (
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/shared/cmdmain"
	"github.com/clemhq/clem/watchdog/internal/config"
	"github.com/clemhq/clem/watchdog/internal/daemon"
)

// New returns the watchdog command-line application.
func New() *cli.App {
	cfgFlag := &cli.StringFlag{Name: "config", Aliases: []string{"c"}, Required: true, Usage: "the TOML config `FILE`"}
	return &cli.App{
		Name:  "watchdog",
		Usage: "watches a clem fleet and alerts after repeated failures",
		Description: `watchdog runs as its own unprivileged user, never as root. Every interval
it reads each agent's and daemon's unit from systemd over D-Bus (read-only),
each runner's state file and each daemon's health socket; it detects units
that failed, do not run, keep restarting or refuse to start (an agent's
egress verification failing), stalled or stuck runners, iterations that keep
failing (a rejected credential among them), unhealthy daemons, and the
egress guard's record (a changed egress table, a failed restore, a silent
guard). Each cause alerts on its own through coord: after repeated bad
checks, at once for a failed unit, a failed restore or a silent guard, and
every time for a changed table; a cooldown per cause; and says once when a
cause is over. Everything also goes to the journal (JSON
lines on stdout).

Config (TOML, written by clem provision; unknown keys are errors):

` + config.Example,
		HideHelpCommand: true,
		Commands: []*cli.Command{
			cmdmain.RunCommand("watch the fleet from a TOML config", cfgFlag, os.Stdout, daemon.Run),
			cmdmain.CheckCommand("validate a TOML config and exit", cfgFlag, config.Load, func(w io.Writer, path string, cfg *config.Config) {
				egress := "no egress guard watched"
				if cfg.EgressState != "" {
					egress = fmt.Sprintf("egress guard %s (silent after %v)", cfg.EgressState, cfg.EgressStaleAfter)
				}
				fmt.Fprintf(w, "ok: %s: project %s, %d agents, %d daemons, %s, every %v; alert after %d bad checks in %v (a failed unit at once), cooldown %v per cause\n",
					path, cfg.Project, len(cfg.Agents), len(cfg.Daemons), egress, cfg.Interval, cfg.Failures, cfg.Window, cfg.Cooldown)
			}),
		},
	}
}
