package netns

import (
	"fmt"
	"runtime/debug"
	"testing"

	"golang.org/x/sys/unix"
)

// Run calls fn in a new network namespace whose only interface is lo (up),
// and fails the test if the namespace cannot be made. It needs root.
//
// fn runs on a goroutine locked to an OS thread that alone was moved into the
// namespace. What fn does on that goroutine happens inside: listeners,
// dials, netlink and nftables sockets, and processes it starts (exec.Cmd
// forks from the calling thread). Goroutines fn starts run on other threads,
// in the host's namespace; but a socket keeps the namespace it was made in,
// so create listeners in fn and serve them from other goroutines freely.
// The thread is discarded when fn returns; it never rejoins the runtime's
// pool, so no later code runs in the namespace by accident, and the
// namespace disappears with its last socket or process.
//
// fn may call t.Fatal and friends; Run then stops the test as if it had.
// A panic in fn fails the test with its stack.
func Run(t testing.TB, fn func()) {
	t.Helper()
	requireRoot(t)
	inside(t, "new network namespace", func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
		}
		return loopbackUp()
	}, fn)
}

// inside runs fn on a throwaway thread after enter moved that thread into
// a namespace, and turns what happened into the test's result: a failed
// enter or a panic fails the test, and a t.FailNow in fn stops it.
func inside(t testing.TB, what string, enter func() error, fn func()) {
	t.Helper()
	var (
		setupErr error
		returned bool
		panicked any
		stack    []byte
	)
	onThrowawayThread(func() {
		if setupErr = enter(); setupErr != nil {
			return
		}
		defer func() {
			// recover is nil when fn called runtime.Goexit (t.FailNow).
			if v := recover(); v != nil {
				panicked, stack = v, debug.Stack()
			}
		}()
		fn()
		returned = true
	})
	switch {
	case setupErr != nil:
		t.Fatalf("netns: %s: %v", what, setupErr)
	case panicked != nil:
		t.Fatalf("netns: panic in the namespace: %v\n%s", panicked, stack)
	case !returned:
		// fn stopped its goroutine with t.FailNow; stop the test goroutine too.
		t.FailNow()
	}
}
