package nsthread

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestDoNeverUsesTheMainThread: f runs on another thread than the main one,
// and that thread is gone afterwards.
func TestDoNeverUsesTheMainThread(t *testing.T) {
	for range 20 {
		var tid int
		Do(func() { tid = unix.Gettid() })
		if tid == unix.Getpid() || tid == 0 {
			t.Fatalf("f ran on thread %d, the main thread is %d", tid, unix.Getpid())
		}
		// The locked goroutine exited without unlocking: its thread ends.
		gone := false
		for range 200 {
			if unix.Tgkill(unix.Getpid(), tid, 0) == unix.ESRCH {
				gone = true
				break
			}
			unix.Nanosleep(&unix.Timespec{Nsec: 1e6}, nil)
		}
		if !gone {
			t.Fatalf("thread %d still exists after Do returned", tid)
		}
	}
}
