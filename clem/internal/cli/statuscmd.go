package cli

import (
	"encoding/json"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/clem/internal/fleet"
)

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show the fleet: each agent's unit, iteration, last result, stalls, restarts, cost today, last egress refusal",
		Description: `Reads systemd (one call), each runner's state file and the tail of
pipelock's audit log. The state files and the audit log are readable by root
(and the watchdog's group): run it with sudo for everything.`,
		Flags: []cli.Flag{configFlag(), &cli.BoolFlag{Name: "json", Usage: "print JSON instead of a table"}},
		Action: func(c *cli.Context) error {
			cfg, p, err := project(c)
			if err != nil {
				return err
			}
			st := fleet.Collect(cfg, p)
			if c.Bool("json") {
				e := json.NewEncoder(c.App.Writer)
				e.SetIndent("", "  ")
				return e.Encode(st)
			}
			st.Print(c.App.Writer, time.Now())
			return nil
		},
	}
}
