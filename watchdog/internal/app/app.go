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
failing (a rejected credential among them) and unhealthy daemons. It alerts
through coord only after repeated bad checks, with a cooldown, and says once
when a subject is healthy again. Everything also goes to the journal (JSON
lines on stdout).

Config (TOML, written by clem provision; unknown keys are errors):

` + config.Example,
		HideHelpCommand: true,
		Commands: []*cli.Command{
			cmdmain.RunCommand("watch the fleet from a TOML config", cfgFlag, os.Stdout, daemon.Run),
			cmdmain.CheckCommand("validate a TOML config and exit", cfgFlag, config.Load, func(w io.Writer, path string, cfg *config.Config) {
				fmt.Fprintf(w, "ok: %s: project %s, %d agents, %d daemons, every %v; alert after %d bad checks in %v, cooldown %v\n",
					path, cfg.Project, len(cfg.Agents), len(cfg.Daemons), cfg.Interval, cfg.Failures, cfg.Window, cfg.Cooldown)
			}),
		},
	}
}
