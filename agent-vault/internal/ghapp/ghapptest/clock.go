package ghapptest

import (
	"sync"
	"time"
)

// Clock is a ghapp.Clock that moves only when told. Every After call is
// announced on Waits, so a test learns, without sleeping, that the code
// under test has gone to sleep and for how long.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []timer
	// Waits receives the duration of each After call.
	Waits chan time.Duration
}

type timer struct {
	at time.Time
	c  chan time.Time
}

// NewClock starts at start.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start, Waits: make(chan time.Duration, 64)}
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After fires once the clock has been advanced d.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	ch := make(chan time.Time, 1)
	c.timers = append(c.timers, timer{c.now.Add(d), ch})
	c.mu.Unlock()
	c.Waits <- d
	return ch
}

// Advance moves the clock by d and fires the timers that are due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			keep = append(keep, t)
			continue
		}
		t.c <- c.now
	}
	c.timers = keep
}

// Jump moves the clock by d without firing any timer, as a host that was
// suspended sees it.
func (c *Clock) Jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
