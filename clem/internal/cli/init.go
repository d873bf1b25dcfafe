package cli

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/clem/internal/scaffold"
)

func initCommand() *cli.Command {
	return &cli.Command{
		Name:      "init",
		Usage:     "write a commented clem.yaml and one role prompt per agent",
		ArgsUsage: " ",
		Description: `Writes clem.yaml (a lead and a worker agent) and prompts/ into --dir.
It never overwrites: if any of those files exists, nothing is written.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "backend", Value: "local", Usage: "coordination backend: local | discord | slack | github"},
			&cli.StringFlag{Name: "dir", Value: ".", Usage: "`DIR` to write into (created if missing)"},
			&cli.StringFlag{Name: "project", Usage: "project `NAME`, the prefix of the team's OS users (default: from DIR's name)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("init takes no arguments (got %q); use --dir", c.Args().First())
			}
			res, err := scaffold.Write(scaffold.Options{Dir: c.String("dir"), Project: c.String("project"), Backend: c.String("backend")})
			if err != nil {
				return err
			}
			w := c.App.Writer
			for _, f := range res.Files {
				fmt.Fprintf(w, "wrote %s\n", f)
			}
			fmt.Fprintln(w, "\nnext:")
			if len(res.Env) > 0 {
				fmt.Fprintf(w, "  export %s   # clem.yaml reads them\n", strings.Join(res.Env, "=... ")+"=...")
			}
			fmt.Fprintln(w, "  clem check         # validate and see who gets what")
			fmt.Fprintln(w, "  clem vault init    # create the encrypted secrets file")
			return nil
		},
	}
}
