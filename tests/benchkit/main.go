package benchkit

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// Main is a bench command's main after its flags are checked: pin (which
// may re-execute the program), then run until done or interrupted. An
// interruption is reported as interrupted.
func Main(pin func() error, run func(context.Context) error, interrupted string) error {
	if err := pin(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx)
	if errors.Is(err, context.Canceled) {
		return errors.New(interrupted)
	}
	return err
}
