package cmdmain

import (
	"context"
	"io"
	"log/slog"

	"github.com/urfave/cli/v2"
)

// RunCommand is the `run` subcommand every daemon has: operational logs as
// JSON lines on logTo (journald under systemd), then run with the config
// path the flag names until ctx ends.
func RunCommand(usage string, cfgFlag *cli.StringFlag, logTo io.Writer, run func(ctx context.Context, path string, log *slog.Logger) error) *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: usage,
		Flags: []cli.Flag{cfgFlag},
		Action: func(c *cli.Context) error {
			return run(c.Context, c.String(cfgFlag.Name), slog.New(slog.NewJSONHandler(logTo, nil)))
		},
	}
}

// CheckCommand is the `check` subcommand: load the config (every error
// with its file and line) and print what it holds in one line or a few.
func CheckCommand[C any](usage string, cfgFlag *cli.StringFlag, load func(path string) (C, error), summary func(w io.Writer, path string, cfg C)) *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: usage,
		Flags: []cli.Flag{cfgFlag},
		Action: func(c *cli.Context) error {
			path := c.String(cfgFlag.Name)
			cfg, err := load(path)
			if err != nil {
				return err
			}
			summary(c.App.Writer, path, cfg)
			return nil
		},
	}
}
