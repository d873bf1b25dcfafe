package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/clem/internal/egress"
	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/clem/internal/provision"
)

func egressCommand() *cli.Command {
	return &cli.Command{
		Name:  "egress",
		Usage: "inspect the kernel egress rules",
		Subcommands: []*cli.Command{{
			Name:  "verify",
			Usage: "check the live nftables table against clem.yaml (or the spec provision wrote); exit 1 if they differ",
			Description: `With --project, compares the live table with /etc/clem/PROJECT/egress.json,
the spec provision wrote: agent units run this before they start, so an
agent never runs without its rules. Without it, computes the spec from
clem.yaml and the users on this host. Reading nftables needs root.`,
			Flags: []cli.Flag{
				configFlag(),
				&cli.StringFlag{Name: "project", Usage: "verify against the spec provision wrote for project `NAME`"},
				&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing when the table matches"},
			},
			Action: egressVerify,
		}},
	}
}

func egressVerify(c *cli.Context) error {
	var spec egress.Spec
	if name := c.String("project"); name != "" {
		p := layout.New(layout.DefaultRoots(""), name, 0)
		s, err := egress.LoadSpec(p.EgressSpec())
		if err != nil {
			return cli.Exit(fmt.Sprintf("egress verify: %v (run `sudo clem provision`)", err), 1)
		}
		spec = s
	} else {
		cfg, err := loadConfig(c)
		if err != nil {
			return err
		}
		s, err := provision.EgressSpec(cfg)
		if err != nil {
			return err
		}
		if s == nil {
			fmt.Fprintln(c.App.Writer, "no agent is pinned (egress.enabled is false for all): nothing to verify")
			return nil
		}
		spec = *s
	}
	if err := egress.Verify(spec); err != nil {
		return cli.Exit(fmt.Sprintf("egress verify: %v", err), 1)
	}
	if !c.Bool("quiet") {
		fmt.Fprintf(c.App.Writer, "ok: table inet %s pins %d agent%s to pipelock on 127.0.0.1:%d\n", spec.Table, len(spec.Agents), plural(len(spec.Agents)), spec.ProxyPort)
	}
	return nil
}
