package cli

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/hostcmd"
	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/clem/internal/provision"
)

func deprovisionCommand() *cli.Command {
	return &cli.Command{
		Name:  "deprovision",
		Usage: "remove everything provision made, in reverse order (root)",
		Description: `Reads the project's manifest (/var/lib/clem/PROJECT/manifest.json), so it
works even after clem.yaml changed: stops and removes the units, deletes the
egress table, the configs, credentials and directories, then the users.`,
		Flags: []cli.Flag{
			configFlag(),
			&cli.StringFlag{Name: "project", Usage: "the project `NAME` (default: clem.yaml's project)"},
			&cli.BoolFlag{Name: "keep-users", Usage: "keep the OS users"},
			&cli.BoolFlag{Name: "keep-homes", Usage: "keep agents' homes and the daemons' state (audit logs, the board, the broker CA)"},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print what would be removed"},
		},
		Action: func(c *cli.Context) error {
			dry := c.Bool("dry-run")
			if !dry && os.Geteuid() != 0 {
				return cli.Exit("clem deprovision removes users, firewall rules and units: run it with sudo", 1)
			}
			name := c.String("project")
			if name == "" {
				cfg, err := loadConfig(c)
				if err != nil {
					return err
				}
				name = cfg.Project
			}
			if !config.NameRE.MatchString(name) {
				return cli.Exit(fmt.Sprintf("--project %q is not a project name (%s)", name, config.NameRE), 2)
			}
			p := layout.New(layout.DefaultRoots(""), name, 0)
			return provision.Deprovision(p, provision.DeprovisionOptions{
				KeepUsers: c.Bool("keep-users"),
				KeepHomes: c.Bool("keep-homes"),
				DryRun:    dry,
				Systemd:   hostcmd.SystemdRunning(),
			}, c.App.Writer)
		},
	}
}
