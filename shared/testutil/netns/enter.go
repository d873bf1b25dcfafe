package netns

import (
	"fmt"
	"os"
	"runtime/debug"
	"testing"

	"golang.org/x/sys/unix"
)

// In calls fn inside the named namespace at path (from NewNamed), with the
// same rules as Run: fn's goroutine alone is inside, processes it starts
// inherit the namespace, and the thread is discarded afterwards.
func In(t testing.TB, path string, fn func()) {
	t.Helper()
	requireRoot(t)
	var (
		setupErr error
		returned bool
		panicked any
		stack    []byte
	)
	onThrowawayThread(func() {
		f, err := os.Open(path)
		if err != nil {
			setupErr = err
			return
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err != nil {
			setupErr = fmt.Errorf("setns %s: %w", path, err)
			return
		}
		defer func() {
			if v := recover(); v != nil {
				panicked, stack = v, debug.Stack()
			}
		}()
		fn()
		returned = true
	})
	switch {
	case setupErr != nil:
		t.Fatalf("netns: enter %s: %v", path, setupErr)
	case panicked != nil:
		t.Fatalf("netns: panic in the namespace: %v\n%s", panicked, stack)
	case !returned:
		t.FailNow()
	}
}
