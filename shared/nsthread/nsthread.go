// Package nsthread runs a function on an OS thread that may be moved into
// another namespace and is thrown away afterwards, so nothing else ever runs
// there by accident. clem's egress check (a scratch network namespace) and
// the test helpers in shared/testutil/netns import it.
package nsthread

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// Do runs f on a new goroutine locked to its OS thread and waits for it.
// The goroutine never unlocks: f may move the thread into another
// namespace, and a locked goroutine that exits takes its thread with it, so
// the runtime never hands that thread to unrelated goroutines.
//
// The process's main thread is never used. The runtime does not discard it
// (it parks it forever instead, keeping the namespace alive), and
// /proc/<pid>/ns shows its namespaces, so moving it would make the whole
// process look as if it lived elsewhere.
func Do(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// While this goroutine holds the main thread, the nested
			// goroutine must land on another one.
			Do(f)
			runtime.UnlockOSThread()
			return
		}
		f()
	}()
	<-done
}
