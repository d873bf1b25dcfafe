package cli

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/hostcmd"
	"github.com/clemhq/clem/clem/internal/layout"
)

// project loads clem.yaml and the project's layout.
func project(c *cli.Context) (*config.Config, layout.Project, error) {
	cfg, err := loadConfig(c)
	if err != nil {
		return nil, layout.Project{}, err
	}
	return cfg, layout.New(layout.DefaultRoots(""), cfg.Project, cfg.Egress.ProxyPort), nil
}

// agentUnits maps agent names given on the command line to their units;
// none means the whole fleet (the target).
func agentUnits(c *cli.Context, cfg *config.Config, p layout.Project) ([]string, error) {
	if c.NArg() == 0 {
		return []string{p.Target()}, nil
	}
	var units []string
	for _, k := range c.Args().Slice() {
		if cfg.Agent(k) == nil {
			return nil, fmt.Errorf("no agent %q in %s (agents: %s)", k, cfg.Path, agentList(cfg))
		}
		units = append(units, p.AgentUnit(k))
	}
	return units, nil
}

// oneAgent is the single AGENT argument of attach and logs, looked up in
// clem.yaml; usage is the command's usage line for a wrong count.
func oneAgent(c *cli.Context, usage string) (*config.Agent, layout.Project, error) {
	if c.NArg() != 1 {
		return nil, layout.Project{}, cli.Exit("usage: "+usage, 2)
	}
	cfg, p, err := project(c)
	if err != nil {
		return nil, p, err
	}
	a := cfg.Agent(c.Args().First())
	if a == nil {
		return nil, p, cli.Exit(fmt.Sprintf("no agent %q in %s (agents: %s)", c.Args().First(), cfg.Path, agentList(cfg)), 1)
	}
	return a, p, nil
}

func agentList(cfg *config.Config) string {
	s := ""
	for i, a := range cfg.Agents {
		if i > 0 {
			s += ", "
		}
		s += a.Key
	}
	return s
}

// needRootSystemd refuses early, with the reason, when a command needs
// root and a running systemd.
func needRootSystemd(what string) error {
	if os.Geteuid() != 0 {
		return cli.Exit("clem "+what+" starts and stops system services: run it with sudo", 1)
	}
	if !hostcmd.SystemdRunning() {
		return cli.Exit("clem "+what+": systemd is not running as PID 1 here; clem's units need it (try `sudo make demo` for a throwaway systemd)", 1)
	}
	return nil
}

func upCommand() *cli.Command {
	return &cli.Command{
		Name:      "up",
		Usage:     "start the fleet, or the named agents, and enable it at boot (root)",
		ArgsUsage: "[agent...]",
		Flags:     []cli.Flag{configFlag()},
		Action: func(c *cli.Context) error {
			if err := needRootSystemd("up"); err != nil {
				return err
			}
			cfg, p, err := project(c)
			if err != nil {
				return err
			}
			if _, err := os.Stat(p.Manifest()); err != nil {
				return cli.Exit(fmt.Sprintf("project %s is not provisioned on this host: run `sudo clem provision` first", p.Name), 1)
			}
			units, err := agentUnits(c, cfg, p)
			if err != nil {
				return err
			}
			args := []string{"start"}
			if c.NArg() == 0 {
				args = []string{"enable", "--now"}
			}
			if err := hostcmd.Systemctl(append(args, units...)...); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "started %v; `clem status` shows how they are doing\n", units)
			return nil
		},
	}
}

func downCommand() *cli.Command {
	return &cli.Command{
		Name:      "down",
		Usage:     "stop the fleet (and disable it at boot), or the named agents (root)",
		ArgsUsage: "[agent...]",
		Flags:     []cli.Flag{configFlag()},
		Action: func(c *cli.Context) error {
			if err := needRootSystemd("down"); err != nil {
				return err
			}
			cfg, p, err := project(c)
			if err != nil {
				return err
			}
			units, err := agentUnits(c, cfg, p)
			if err != nil {
				return err
			}
			args := []string{"stop"}
			if c.NArg() == 0 {
				args = []string{"disable", "--now"}
			}
			if err := hostcmd.Systemctl(append(args, units...)...); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "stopped %v\n", units)
			return nil
		},
	}
}

func restartCommand() *cli.Command {
	return &cli.Command{
		Name:      "restart",
		Usage:     "restart all agents, or the named ones (root)",
		ArgsUsage: "[agent...]",
		Flags:     []cli.Flag{configFlag()},
		Action: func(c *cli.Context) error {
			if err := needRootSystemd("restart"); err != nil {
				return err
			}
			cfg, p, err := project(c)
			if err != nil {
				return err
			}
			var units []string
			if c.NArg() == 0 {
				for _, a := range cfg.Agents {
					units = append(units, p.AgentUnit(a.Key))
				}
			} else if units, err = agentUnits(c, cfg, p); err != nil {
				return err
			}
			if err := hostcmd.Systemctl(append([]string{"restart"}, units...)...); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "restarted %v\n", units)
			return nil
		},
	}
}
