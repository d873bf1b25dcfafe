// Package app builds the runner command line: run, check, and the two
// commands the runner starts in its own tmux session (pane, view).
package app

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/runner/internal/agentcmd"
	"github.com/clemhq/clem/runner/internal/config"
	"github.com/clemhq/clem/runner/internal/confine"
	"github.com/clemhq/clem/runner/internal/daemon"
	"github.com/clemhq/clem/runner/internal/pane"
	"github.com/clemhq/clem/shared/cmdmain"
)

// New returns the runner command-line application.
func New() *cli.App {
	cfgFlag := &cli.StringFlag{Name: "config", Aliases: []string{"c"}, Required: true, Usage: "the runner.toml `FILE`"}
	return &cli.App{
		Name:  "runner",
		Usage: "loops an agent's CLI (Claude Code first) headless in its tmux session",
		Description: `runner is the main process of one agent's systemd unit and runs as the agent's
user. On a timer (iteration by day, iteration_night at night, with jitter and
backoff after failures), and early when coord reports new work, it runs the
agent's CLI headless (claude -p --output-format stream-json) in a new window
of the agent's tmux session with the role prompt and the fenced inbox. It
watches the event stream: no event for stall_timeout, or max_iteration
reached, and it kills the CLI's whole process group. Each iteration is
recorded in <state_dir>/state.json, history.jsonl and transcripts/.
systemd: READY once the tmux session is up, WATCHDOG while the loop is
healthy, STATUS with the iteration, events and today's cost.

See docs/runner.md for runner.toml.`,
		HideHelpCommand: true,
		Commands: []*cli.Command{
			cmdmain.RunCommand("run the agent loop from its runner.toml", cfgFlag, os.Stderr, daemon.Run),
			cmdmain.CheckCommand("validate a runner.toml and exit", cfgFlag, config.Load, func(w io.Writer, path string, cfg *config.Config) {
				fmt.Fprintf(w, "ok: %s: agent %s (%s), runtime %s\n", path, cfg.Agent, cfg.Name, cfg.Runtime)
				night := "no night interval"
				if cfg.HasNight() {
					night = fmt.Sprintf("%s at night (%02d:%02d-%02d:%02d)", cfg.NightInterval,
						cfg.NightStart/60, cfg.NightStart%60, cfg.NightEnd/60, cfg.NightEnd%60)
				}
				fmt.Fprintf(w, "  every %s by day, %s, jitter ±%.0f%%, backoff up to %s\n",
					cfg.Iteration.Duration, night, cfg.JitterFrac*100, cfg.BackoffMax.Duration)
				fmt.Fprintf(w, "  stall after %s without an event, at most %s per iteration\n", cfg.StallTimeout.Duration, cfg.MaxIteration.Duration)
				if cfg.Runtime == config.ClaudeCode {
					fmt.Fprintf(w, "  claude %s\n", strings.Join(agentcmd.ClaudeArgs(cfg), " "))
				}
				fmt.Fprintf(w, "  state in %s, tmux session %s\n", cfg.StateDir, cfg.TmuxSession)
				if b := cfg.ReservedPorts; b != nil {
					fmt.Fprintf(w, "  TCP ports %d-%d reserved: the agent may not bind them", b.First, b.Last)
					if abi, problem := confine.Supported(); problem != "" {
						fmt.Fprintf(w, "; WARNING, not enforceable here: %s\n", problem)
					} else {
						fmt.Fprintf(w, " (Landlock ABI %d)\n", abi)
					}
				} else {
					fmt.Fprintf(w, "  no reserved_ports: the agent's binds are not confined\n")
				}
			}),
			{
				Name:   "pane",
				Usage:  "run one iteration's CLI for the runner (started by the runner in its tmux session)",
				Hidden: true,
				Flags:  []cli.Flag{&cli.StringFlag{Name: "socket", Required: true}},
				Action: func(c *cli.Context) error {
					return pane.Run(c.Context, c.String("socket"), c.App.Writer)
				},
			},
			{
				Name:   "view",
				Usage:  "show the runner's state (the first window of its tmux session)",
				Hidden: true,
				Flags:  []cli.Flag{&cli.StringFlag{Name: "state", Required: true}},
				Action: func(c *cli.Context) error {
					return daemon.View(c.Context, c.String("state"), c.App.Writer)
				},
			},
		},
	}
}
