package sdnotify

import (
	"context"
	"os"
	"strconv"
	"time"
)

// WatchdogInterval reports the watchdog timeout systemd set for this process
// (WatchdogSec=, passed as WATCHDOG_USEC). ok is false when no watchdog is
// configured, when the value is malformed, or when WATCHDOG_PID names another
// process: a child that inherited the environment must not ping on its
// parent's behalf.
func WatchdogInterval() (interval time.Duration, ok bool) {
	s := os.Getenv("WATCHDOG_USEC")
	if s == "" {
		return 0, false
	}
	usec, err := strconv.ParseUint(s, 10, 63)
	if err != nil || usec == 0 || usec > uint64(1<<63-1)/uint64(time.Microsecond) {
		return 0, false
	}
	if p := os.Getenv("WATCHDOG_PID"); p != "" {
		pid, err := strconv.Atoi(p)
		if err != nil || pid != os.Getpid() {
			return 0, false
		}
	}
	return time.Duration(usec) * time.Microsecond, true
}

// RunWatchdog pings systemd's watchdog at half the configured interval, but
// only when healthy returns true, so a daemon that hangs (healthy never
// returns) or fails its probe stops pinging and systemd restarts it. It
// returns when ctx is done, or at once if no watchdog is configured. healthy
// must not be nil; it runs on RunWatchdog's goroutine.
//
// Send errors are dropped: a ping that cannot reach systemd is the failure
// the watchdog exists to catch, and there is no one else to tell.
func RunWatchdog(ctx context.Context, healthy func() bool) {
	if healthy == nil {
		panic("sdnotify: RunWatchdog with a nil health probe")
	}
	interval, ok := WatchdogInterval()
	if !ok {
		return
	}
	tick := time.NewTicker(interval / 2)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if healthy() {
				_ = Watchdog()
			}
		}
	}
}
