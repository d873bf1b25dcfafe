package cli

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/clem/internal/termrelay"
	"github.com/clemhq/clem/shared/runstate"
)

func attachCommand() *cli.Command {
	return &cli.Command{
		Name:      "attach",
		Usage:     "watch (or type into) an agent's tmux session through a filtering relay (root)",
		ArgsUsage: "AGENT",
		Description: `Shows the agent's current iteration live. The agent's tmux client runs as
the agent on a pty that clem owns, never on your terminal, and what it
draws is filtered (no clipboard writes, terminal queries or titles).
Ctrl-] always leaves. With --read-only nothing you type reaches the agent;
q, Ctrl-C or Ctrl-b d leave. Otherwise detach with Ctrl-b d.`,
		Flags: []cli.Flag{configFlag(), &cli.BoolFlag{Name: "read-only", Aliases: []string{"r"}, Usage: "watch only: no keystroke reaches the agent"}},
		Action: func(c *cli.Context) error {
			a, p, err := oneAgent(c, "clem attach AGENT [--read-only]")
			if err != nil {
				return err
			}
			if os.Geteuid() != 0 {
				return cli.Exit("clem attach runs tmux as the agent's user: run it with sudo", 1)
			}
			sock := runstate.TmuxSocketPath(p.AgentState(a.Key))
			if _, err := os.Lstat(sock); err != nil {
				return cli.Exit(fmt.Sprintf("agent %s has no tmux session yet (%s): is it running? `clem status`", a.Key, sock), 1)
			}
			if _, err := exec.LookPath("setpriv"); err != nil {
				return fmt.Errorf("clem attach needs setpriv (util-linux): %w", err)
			}
			tmux := []string{"tmux", "-S", sock, "attach-session", "-t", "clem-" + a.Key}
			if c.Bool("read-only") {
				tmux = append(tmux, "-r")
			}
			// The agent owns the tmux server and so decides what this client
			// runs (a client-attached hook can make it run anything): it gets
			// the relay's pty, never the operator's terminal.
			err = termrelay.Run(c.Context, termrelay.Options{
				Argv:     termrelay.AsUser(a.User, tmux...),
				Env:      []string{"TERM=" + termOr("xterm-256color"), "HOME=" + p.Home(a.Key), "PATH=/usr/local/bin:/usr/bin:/bin"},
				Dir:      "/",
				Terminal: os.Stdin,
				ReadOnly: c.Bool("read-only"),
				Scope:    fmt.Sprintf("clem-attach-%s-%d", a.User, os.Getpid()),
			})
			if err != nil {
				return fmt.Errorf("clem attach %s: %w", a.Key, err)
			}
			return nil
		},
	}
}

func termOr(def string) string {
	if t := os.Getenv("TERM"); t != "" {
		return t
	}
	return def
}
