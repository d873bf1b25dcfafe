package cli

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/urfave/cli/v2"
)

func attachCommand() *cli.Command {
	return &cli.Command{
		Name:      "attach",
		Usage:     "attach to an agent's tmux session, as that agent's user (root)",
		ArgsUsage: "AGENT",
		Description: `Shows the agent's current iteration live. With --read-only you can watch
without typing into it. Detach with the tmux prefix and d (Ctrl-b d).`,
		Flags: []cli.Flag{configFlag(), &cli.BoolFlag{Name: "read-only", Aliases: []string{"r"}, Usage: "watch only"}},
		Action: func(c *cli.Context) error {
			a, p, err := oneAgent(c, "clem attach AGENT [--read-only]")
			if err != nil {
				return err
			}
			if os.Geteuid() != 0 {
				return cli.Exit("clem attach runs tmux as the agent's user: run it with sudo", 1)
			}
			sock := p.AgentState(a.Key) + "/tmux.sock"
			if _, err := os.Stat(sock); err != nil {
				return cli.Exit(fmt.Sprintf("agent %s has no tmux session yet (%s): is it running? `clem status`", a.Key, sock), 1)
			}
			setpriv, err := exec.LookPath("setpriv")
			if err != nil {
				return fmt.Errorf("clem attach needs setpriv (util-linux): %w", err)
			}
			tmux := []string{"tmux", "-S", sock, "attach-session", "-t", "clem-" + a.Key}
			if c.Bool("read-only") {
				tmux = append(tmux, "-r")
			}
			args := append([]string{"setpriv", "--reuid=" + a.User, "--regid=" + a.User, "--init-groups", "--"}, tmux...)
			env := []string{"TERM=" + termOr("xterm-256color"), "HOME=" + p.Home(a.Key), "PATH=/usr/local/bin:/usr/bin:/bin"}
			return syscall.Exec(setpriv, args, env)
		},
	}
}

func termOr(def string) string {
	if t := os.Getenv("TERM"); t != "" {
		return t
	}
	return def
}
