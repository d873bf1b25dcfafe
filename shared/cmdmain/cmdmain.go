// Package cmdmain is the shim behind every clem binary's main.go: it stamps
// the version, builds a context cancelled by SIGINT/SIGTERM, runs the
// urfave/cli app, prints a failure once to stderr and turns it into an exit
// code. Only Main calls os.Exit; everything below returns errors. Every
// binary's main.go imports it, and nothing else may.
package cmdmain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/shared/version"
)

// Main runs app with the process arguments and exits with its status.
func Main(app *cli.App) {
	os.Exit(Run(app, os.Args, os.Stderr))
}

// Run runs app and returns the exit status: 0 on success, the code of a
// cli.ExitCoder, or 1 for any other error.
func Run(app *cli.App, args []string, stderr io.Writer) int {
	prepare(app, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := app.RunContext(ctx, args)
	if err == nil {
		return 0
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintf(stderr, "%s: %s\n", app.Name, msg)
	}
	var coder cli.ExitCoder
	if errors.As(err, &coder) && coder.ExitCode() != 0 {
		return coder.ExitCode()
	}
	return 1
}

func prepare(app *cli.App, stderr io.Writer) {
	app.Version = version.Version
	app.ErrWriter = stderr
	// Errors are printed once by Run, not also by urfave/cli.
	app.ExitErrHandler = func(*cli.Context, error) {}
	cli.VersionPrinter = func(c *cli.Context) {
		fmt.Fprintln(c.App.Writer, version.String(c.App.Name))
	}
}
