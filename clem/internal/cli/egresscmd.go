package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/clem/internal/egress"
	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/clem/internal/provision"
	"github.com/clemhq/clem/shared/config"
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
		}, {
			Name:  "apply",
			Usage: "put the egress table provision wrote back in place (root; its boot unit runs this)",
			Description: `Reads /etc/clem/PROJECT/egress.json and replaces the project's nftables
table with it in one netlink batch. The clem-PROJECT-egress.service unit
runs it once per boot, before any agent starts.`,
			Flags:  []cli.Flag{&cli.StringFlag{Name: "project", Required: true, Usage: "the project `NAME`"}},
			Action: egressApply,
		}},
	}
}

func egressVerify(c *cli.Context) error {
	var spec egress.Spec
	if name := c.String("project"); name != "" {
		if !config.NameRE.MatchString(name) {
			return cli.Exit(fmt.Sprintf("--project %q is not a project name (%s)", name, config.NameRE), 2)
		}
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

func egressApply(c *cli.Context) error {
	if !config.NameRE.MatchString(c.String("project")) {
		return cli.Exit(fmt.Sprintf("--project %q is not a project name (%s)", c.String("project"), config.NameRE), 2)
	}
	p := layout.New(layout.DefaultRoots(""), c.String("project"), 0)
	spec, err := egress.LoadSpec(p.EgressSpec())
	if err != nil {
		return cli.Exit(fmt.Sprintf("egress apply: %v (run `sudo clem provision`)", err), 1)
	}
	if err := egress.Apply(spec); err != nil {
		return cli.Exit(fmt.Sprintf("egress apply: %v", err), 1)
	}
	fmt.Fprintf(c.App.Writer, "applied table inet %s: %d agent%s pinned to 127.0.0.1:%d\n", spec.Table, len(spec.Agents), plural(len(spec.Agents)), spec.ProxyPort)
	return nil
}
