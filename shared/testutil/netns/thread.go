package netns

import (
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// onThrowawayThread runs f on a new goroutine locked to its OS thread and
// waits for it. The goroutine never unlocks: f may move the thread into
// another namespace, and a locked goroutine that exits takes its thread with
// it, so the runtime never hands that thread to unrelated goroutines.
//
// The process's main thread is never used. The runtime does not discard it
// (it parks it forever instead, keeping the namespace alive), and
// /proc/<pid>/ns shows its namespaces, so moving it would make the whole
// process look as if it lived in the test namespace.
func onThrowawayThread(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// While this goroutine holds the main thread, the nested
			// goroutine must land on another one.
			onThrowawayThread(f)
			runtime.UnlockOSThread()
			return
		}
		f()
	}()
	<-done
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("netns: needs root: run as root (CI does); network namespaces need CAP_SYS_ADMIN")
	}
}
