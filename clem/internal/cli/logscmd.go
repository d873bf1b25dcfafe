package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/clem/internal/fleet"
	"github.com/clemhq/clem/shared/runstate"
)

func logsCommand() *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "show an agent's iteration transcripts: its text, tool calls and results, turns and cost",
		ArgsUsage: "AGENT",
		Flags: []cli.Flag{
			// -f is --follow here (as in tail and journalctl); the team file is --file.
			&cli.StringFlag{Name: "file", Value: "clem.yaml", Usage: "the team `FILE`", EnvVars: []string{"CLEM_FILE"}},
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep following the newest iteration"},
			&cli.BoolFlag{Name: "raw", Usage: "print the stream-json lines as recorded, control characters shown escaped (\\x1b)"},
			&cli.IntFlag{Name: "iterations", Aliases: []string{"n"}, Value: 1, Usage: "how many of the latest iterations to show"},
		},
		Action: func(c *cli.Context) error {
			a, p, err := oneAgent(c, "clem logs AGENT [-f] [--raw] [-n N]")
			if err != nil {
				return err
			}
			dir := p.AgentState(a.Key)
			render := func(w io.Writer, r io.Reader) error { return fleet.Render(w, r, a.Runtime) }
			if c.Bool("raw") {
				render = fleet.Raw
			}
			if c.Bool("follow") {
				return fleet.Follow(c.Context, dir, c.App.Writer, render)
			}
			// The agent owns its state directory: fleet opens transcripts
			// without following symlinks or blocking on FIFOs.
			ns, err := fleet.Transcripts(dir)
			if err != nil {
				return err
			}
			if len(ns) == 0 {
				if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
					return cli.Exit(fmt.Sprintf("agent %s has no state directory %s: is the project provisioned (sudo clem provision)?", a.Key, dir), 1)
				} else if err != nil {
					return cli.Exit(fmt.Sprintf("cannot read %s: %v (transcripts are readable by root and the watchdog's group: try sudo)", dir, err), 1)
				}
				fmt.Fprintf(c.App.Writer, "agent %s has no iterations yet\n", a.Key)
				return nil
			}
			if n := c.Int("iterations"); n > 0 && n < len(ns) {
				ns = ns[len(ns)-n:]
			}
			for _, n := range ns {
				f, err := fleet.OpenTranscript(dir, n)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "── iteration %d (%s)\n", n, runstate.TranscriptPath(dir, n))
				err = render(c.App.Writer, f)
				f.Close()
				if err != nil {
					return err
				}
			}
			return nil
		},
	}
}
