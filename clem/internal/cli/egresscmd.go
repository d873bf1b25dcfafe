package cli

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/egress"
	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/clem/internal/provision"
	"github.com/clemhq/clem/shared/egressstate"
	"github.com/clemhq/clem/shared/sdnotify"
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
			Usage: "put the egress table provision wrote back in place, once (root)",
			Description: `Reads /etc/clem/PROJECT/egress.json and replaces the project's nftables
table with it in one netlink batch. The clem-PROJECT-egress.service unit
does this at start and keeps doing it (see watch); apply is the one-off.`,
			Flags:  []cli.Flag{&cli.StringFlag{Name: "project", Required: true, Usage: "the project `NAME`"}},
			Action: egressApply,
		}, {
			Name:  "watch",
			Usage: "apply the egress table provision wrote and keep it in place (root; the project's egress unit runs this)",
			Description: `Applies /etc/clem/PROJECT/egress.json like apply, tells systemd it is
ready (agents start only after that), then compares the live table with
it on every nftables change the kernel announces and every --period. A
difference is logged, counted in ` + "/run/clem/PROJECT/egress/state.json" + `
(the watchdog alerts once per tamper) and repaired at once. It runs
until stopped; the table stays in place when it stops.`,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "project", Required: true, Usage: "the project `NAME`"},
				&cli.DurationFlag{Name: "period", Value: egress.DefaultPeriod, Usage: "compare at least this often, besides on change events"},
			},
			Action: egressWatch,
		}, {
			Name:  "show",
			Usage: "print the egress table clem.yaml asks for (or provision wrote, with --project), as `nft list table` shows it",
			Flags: []cli.Flag{
				configFlag(),
				&cli.StringFlag{Name: "project", Usage: "show the spec provision wrote for project `NAME`"},
			},
			Action: egressShow,
		}},
	}
}

// egressSpec is the spec provision wrote for --project, or else the one
// clem.yaml asks for with this host's uids; nil when no agent is pinned.
func egressSpec(c *cli.Context) (*egress.Spec, error) {
	name := c.String("project")
	if name == "" {
		cfg, err := loadConfig(c)
		if err != nil {
			return nil, err
		}
		return provision.EgressSpec(cfg)
	}
	if !config.NameRE.MatchString(name) {
		return nil, cli.Exit(fmt.Sprintf("--project %q is not a project name (%s)", name, config.NameRE), 2)
	}
	s, err := egress.LoadSpec(layout.New(layout.DefaultRoots(""), name, 0).EgressSpec())
	if err != nil {
		return nil, cli.Exit(fmt.Sprintf("egress: %v (run `sudo clem provision`)", err), 1)
	}
	return &s, nil
}

func egressShow(c *cli.Context) error {
	spec, err := egressSpec(c)
	if err != nil {
		return err
	}
	if spec == nil {
		fmt.Fprintln(c.App.Writer, "no agent is pinned (egress.enabled is false for all): no table")
		return nil
	}
	for _, l := range egress.Describe(*spec) {
		fmt.Fprintln(c.App.Writer, l)
	}
	return nil
}

func egressVerify(c *cli.Context) error {
	s, err := egressSpec(c)
	if err != nil {
		return err
	}
	if s == nil {
		fmt.Fprintln(c.App.Writer, "no agent is pinned (egress.enabled is false for all): nothing to verify")
		return nil
	}
	spec := *s
	if err := egress.Verify(spec); err != nil {
		return cli.Exit(fmt.Sprintf("egress verify: %v", err), 1)
	}
	if !c.Bool("quiet") {
		fmt.Fprintf(c.App.Writer, "ok: table inet %s pins %d agent%s to pipelock on 127.0.0.1:%d\n", spec.Table, len(spec.Agents), plural(len(spec.Agents)), spec.ProxyPort)
	}
	return nil
}

func egressApply(c *cli.Context) error {
	s, err := egressSpec(c) // --project is required here
	if err != nil {
		return err
	}
	spec := *s
	if err := egress.Apply(spec); err != nil {
		return cli.Exit(fmt.Sprintf("egress apply: %v", err), 1)
	}
	fmt.Fprintf(c.App.Writer, "applied table inet %s: %d agent%s pinned to 127.0.0.1:%d\n", spec.Table, len(spec.Agents), plural(len(spec.Agents)), spec.ProxyPort)
	return nil
}

// egressWatch runs the egress guard under systemd (Type=notify): READY once
// the table is in place, WATCHDOG only while a fresh comparison passes.
func egressWatch(c *cli.Context) error {
	s, err := egressSpec(c) // --project is required here
	if err != nil {
		return err
	}
	project := c.String("project")
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil)).With("project", project)
	statePath := egressstate.Path(project)
	// The unit's RuntimeDirectory= makes it; by hand it may be missing.
	if err := os.MkdirAll(filepath.Dir(statePath), 0o755); err != nil {
		return cli.Exit(fmt.Sprintf("egress watch: state directory: %v", err), 1)
	}
	g, err := egress.NewGuard(egress.GuardConfig{
		Project: project, Spec: *s, StatePath: statePath, Period: c.Duration("period"), Log: log,
		Ready: func() {
			if err := sdnotify.Ready(); err != nil {
				log.Warn("sd_notify READY", "error", err)
			}
		},
		Status: func(st egressstate.State) {
			sdnotify.Status("guarding table inet %s (%d agent%s): %s; tampered %d, restored %d",
				s.Table, len(s.Agents), plural(len(s.Agents)), okWord(st.OK), st.Tampered, st.Restored)
		},
	})
	if err != nil {
		return cli.Exit(fmt.Sprintf("egress watch: %v", err), 1)
	}
	go sdnotify.RunWatchdog(c.Context, func() bool { return g.Healthy(c.Context) })
	if err := g.Run(c.Context); err != nil {
		return cli.Exit(fmt.Sprintf("egress watch: %v", err), 1)
	}
	sdnotify.Stopping()
	return nil
}

func okWord(ok bool) string {
	if ok {
		return "in place"
	}
	return "DIFFERS"
}
