package ghapp

import "time"

// Clock is the time a Refresher goes by; tests pass one they advance by
// hand, so no test waits on the wall clock.
type Clock interface {
	Now() time.Time
	// After sends once d has passed.
	After(d time.Duration) <-chan time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
