// Package app builds the coord command line: run and check.
package app

import (
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/coord/internal/config"
	"github.com/clemhq/clem/coord/internal/daemon"
	"github.com/clemhq/clem/shared/cmdmain"
)

// New returns the coord command-line application.
func New() *cli.App {
	cfgFlag := &cli.StringFlag{Name: "config", Aliases: []string{"c"}, Required: true, Usage: "the TOML config `FILE`"}
	return &cli.App{
		Name:  "coord",
		Usage: "brings tasks and alerts from Discord, Slack, GitHub Issues or a local board to agents",
		Description: `coord is the only holder of the coordination tokens. It serves agents an MCP
endpoint on loopback (list_tasks, claim_task, update_task, comment,
post_message, read_inbox), identifying each caller by the uid owning its
socket (sock_diag), and gives runners, the watchdog and operators a unix
socket (SO_PEERCRED) for inboxes, wake-ups, lease heartbeats, alerts and
task operations. Unknown uids are refused; every call is audited.

Config (TOML, written by clem provision; unknown keys are errors):

` + config.Example + `
SIGHUP (or POST /reload on [admin] socket) re-reads the config and applies
what can change live; a bad file is refused and the old config serves on.
SIGTERM stops serving; reports the backend could not take yet stay queued
in coord.db and are sent after a restart.`,
		HideHelpCommand: true,
		Commands: []*cli.Command{
			cmdmain.RunCommand("serve coordination from a TOML config", cfgFlag, os.Stderr, daemon.Run),
			cmdmain.CheckCommand("validate a TOML config and exit", cfgFlag, config.Load, func(w io.Writer, path string, cfg *config.Config) {
				fmt.Fprintf(w, "ok: %s: %s backend, %d agents, mcp %s, socket %s\n",
					path, cfg.Backend, len(cfg.Agents), cfg.MCPAddr, cfg.Socket.Path)
			}),
		},
	}
}
