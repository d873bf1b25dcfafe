// Package cli builds the clem command line: the operator's commands that
// need no root (init, check, vault) and, as later issues land, the root
// commands that provision and run the fleet.
package cli

import (
	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/clem/internal/taskcmd"
)

// New returns the clem application.
func New() *cli.App {
	return &cli.App{
		Name:  "clem",
		Usage: "run a team of contained, autonomous coding agents around the clock",
		Description: `clem turns one file, clem.yaml, into a team of coding agents (Claude Code
first), each a real non-root Linux user whose egress the kernel pins to an
auditing proxy, holding placeholders instead of credentials.

Start here:
   clem init                      write clem.yaml and role prompts
   clem check                     validate it and show who gets what
   clem vault init                create the encrypted secrets file
   sudo clem login --with api-key the model key, brokered (agents get a placeholder)
   sudo clem provision            users, configs, credentials, egress rules, units
   sudo clem up                   start the fleet; then clem task, clem status, clem logs`,
		HideHelpCommand: true,
		Commands: []*cli.Command{
			initCommand(),
			checkCommand(),
			vaultCommand(),
			githubCommand(),
			provisionCommand(),
			deprovisionCommand(),
			egressCommand(),
			loginCommand(),
			upCommand(),
			downCommand(),
			restartCommand(),
			statusCommand(),
			logsCommand(),
			attachCommand(),
			taskcmd.Command(),
		},
	}
}

// configFlag is -f, shared by the commands that read clem.yaml.
func configFlag() *cli.StringFlag {
	return &cli.StringFlag{Name: "file", Aliases: []string{"f"}, Value: "clem.yaml", Usage: "the team `FILE`", EnvVars: []string{"CLEM_FILE"}}
}
