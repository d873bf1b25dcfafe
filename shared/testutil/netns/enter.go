package netns

import (
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// In calls fn inside the named namespace at path (from NewNamed), with the
// same rules as Run: fn's goroutine alone is inside, processes it starts
// inherit the namespace, and the thread is discarded afterwards.
func In(t testing.TB, path string, fn func()) {
	t.Helper()
	requireRoot(t)
	inside(t, "enter "+path, func() error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("setns %s: %w", path, err)
		}
		return nil
	}, fn)
}
