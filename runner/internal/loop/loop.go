// Package loop is the runner's main loop: run an iteration, then wait (the
// schedule's delay, longer after failures), waking early when coord says new
// work arrived, and again. It owns no processes and no files; the daemon
// plugs in what an iteration is and what to record. Its timing uses an
// injected clock so tests drive it without sleeping. Only runner imports it.
package loop

import (
	"context"
	"time"

	"github.com/clemhq/clem/runner/internal/clock"
	"github.com/clemhq/clem/runner/internal/schedule"
	"github.com/clemhq/clem/shared/runstate"
)

// Waker long-polls for new work: true when there is some, false at the
// timeout (shared/coordapi.Client.Wait).
type Waker interface {
	Wait(ctx context.Context, timeout time.Duration) (bool, error)
}

// Timing of the early-wake poll.
const (
	WaitTimeout   = 60 * time.Second // one long poll
	WaitRetryMin  = time.Second      // after an error (coord down), doubling
	WaitRetryMax  = time.Minute
	DefaultBeatAt = 10 * time.Second
)

// Loop runs iterations on a schedule.
type Loop struct {
	Clock    clock.Clock
	Schedule schedule.Schedule
	Rand     func() float64 // uniform in [0,1)
	// MinGap is the least time between the end of one iteration and the
	// start of the next when woken early.
	MinGap time.Duration
	// Iterate runs one iteration and reports whether it failed.
	Iterate func(ctx context.Context) (failed bool)
	// Wake, if set, may end a sleep early (not a backoff: failing
	// iterations are not retried sooner because work arrived).
	Wake Waker
	// Sleeping is told each wait: its phase (sleeping or backoff) and when
	// it ends at the latest.
	Sleeping func(phase runstate.Phase, next time.Time)
	// Beat, if set, is called every BeatEvery while the loop waits; the
	// daemon's health probe for systemd's watchdog. Iterate beats itself.
	Beat      func()
	BeatEvery time.Duration
	// Failures is the count of consecutive failures to start from (from
	// the state file of a previous run); FirstDelay the wait before the
	// first iteration.
	Failures   int
	FirstDelay time.Duration
}

// Run loops until ctx is done. It returns nil then.
func (l *Loop) Run(ctx context.Context) error {
	failures := l.Failures
	delay := l.FirstDelay
	for {
		if delay > 0 && !l.sleep(ctx, delay, failures) {
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		if l.Iterate(ctx) {
			failures++
		} else {
			failures = 0
		}
		if ctx.Err() != nil {
			return nil
		}
		delay = l.Schedule.Delay(l.Clock.Now(), failures, l.Rand())
	}
}

// sleep waits d, or less when woken. It returns false when ctx is done.
func (l *Loop) sleep(ctx context.Context, d time.Duration, failures int) bool {
	phase := runstate.Sleeping
	if failures > 0 {
		phase = runstate.Backoff
	}
	if l.Sleeping != nil {
		l.Sleeping(phase, l.Clock.Now().Add(d))
	}
	timer := l.Clock.NewTimer(d)
	defer timer.Stop()

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	woke := make(chan struct{}, 1)
	if l.Wake != nil && phase == runstate.Sleeping && l.MinGap < d {
		go l.watch(sctx, woke)
	}
	every := l.BeatEvery
	if every <= 0 {
		every = DefaultBeatAt
	}
	var beat clock.Timer
	if l.Beat != nil {
		beat = l.Clock.NewTimer(every)
		defer func() { beat.Stop() }()
	}
	for {
		select {
		case <-ctx.Done():
			return false
		case <-timer.C():
			return true
		case <-woke:
			return true
		case <-beatC(beat):
			l.Beat()
			beat = l.Clock.NewTimer(every)
		}
	}
}

// beatC is t's channel, or nil (never ready) without a timer.
func beatC(t clock.Timer) <-chan time.Time {
	if t == nil {
		return nil
	}
	return t.C()
}

// watch waits MinGap, then long-polls Wake until it reports work (a send
// on woke) or ctx ends. Errors (coord down or restarting) are retried
// quietly with backoff: the schedule still runs the next iteration.
func (l *Loop) watch(ctx context.Context, woke chan<- struct{}) {
	if !l.wait(ctx, l.MinGap) {
		return
	}
	retry := WaitRetryMin
	for ctx.Err() == nil {
		ok, err := l.Wake.Wait(ctx, WaitTimeout)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if !l.wait(ctx, retry) {
				return
			}
			retry = min(retry*2, WaitRetryMax)
			continue
		}
		retry = WaitRetryMin
		if ok {
			woke <- struct{}{}
			return
		}
	}
}

// wait waits d on the loop's clock; false when ctx ended first.
func (l *Loop) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := l.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}
