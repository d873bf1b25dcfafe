package loop

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/clemhq/clem/runner/internal/clock"
	"github.com/clemhq/clem/runner/internal/schedule"
	"github.com/clemhq/clem/shared/runstate"
)

var t0 = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

// harness runs a Loop on a fake clock; each iteration reports its start
// time on started and fails when the test says so on results.
type harness struct {
	t       *testing.T
	clk     *clock.Fake
	l       *Loop
	started chan time.Time
	results chan bool
	mu      sync.Mutex
	sleeps  []sleep
	cancel  context.CancelFunc
	done    chan struct{}
}

type sleep struct {
	phase runstate.Phase
	next  time.Time
}

func newHarness(t *testing.T, wake Waker) *harness {
	h := &harness{t: t, clk: clock.NewFake(t0), started: make(chan time.Time), results: make(chan bool), done: make(chan struct{})}
	h.l = &Loop{
		Clock: h.clk,
		Schedule: schedule.Schedule{Day: 10 * time.Minute, Night: 30 * time.Minute, NightStart: 22 * 60, NightEnd: 7 * 60,
			Jitter: 0.1, BackoffMax: time.Hour, Loc: time.UTC},
		Rand:   func() float64 { return 0.5 },
		MinGap: 30 * time.Second,
		Wake:   wake,
		Iterate: func(ctx context.Context) bool {
			h.started <- h.clk.Now()
			select {
			case f := <-h.results:
				return f
			case <-ctx.Done():
				return true
			}
		},
		Sleeping: func(p runstate.Phase, next time.Time) {
			h.mu.Lock()
			h.sleeps = append(h.sleeps, sleep{p, next})
			h.mu.Unlock()
		},
	}
	return h
}

func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() {
		defer close(h.done)
		if err := h.l.Run(ctx); err != nil {
			h.t.Errorf("Run = %v", err)
		}
	}()
	h.t.Cleanup(h.stop)
}

func (h *harness) stop() {
	h.cancel()
	select {
	case <-h.done:
	case <-time.After(10 * time.Second):
		h.t.Fatal("the loop did not stop when its context was cancelled")
	}
}

// iterate waits for the next iteration, checks when it started, and ends it.
func (h *harness) iterate(wantAt time.Time, failed bool) {
	h.t.Helper()
	select {
	case got := <-h.started:
		if !got.Equal(wantAt) {
			h.t.Fatalf("iteration started at +%v, want +%v", got.Sub(t0), wantAt.Sub(t0))
		}
	case <-time.After(10 * time.Second):
		h.t.Fatalf("no iteration started (want one at +%v); timers pending at %v", wantAt.Sub(t0), h.clk.Deadlines())
	}
	h.results <- failed
}

func (h *harness) lastSleep() sleep {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sleeps[len(h.sleeps)-1]
}

// TestLoopInterval: iterations follow the day interval, then the night one.
func TestLoopInterval(t *testing.T) {
	h := newHarness(t, nil)
	h.clk = clock.NewFake(time.Date(2026, 3, 4, 21, 40, 0, 0, time.UTC))
	h.l.Clock = h.clk
	start := h.clk.Now()
	h.start()
	h.iterate(start, false) // at once: no FirstDelay
	h.clk.BlockUntil(1)
	if s := h.lastSleep(); s.phase != runstate.Sleeping || !s.next.Equal(start.Add(10*time.Minute)) {
		t.Fatalf("sleep = %+v, want sleeping until +10m", s)
	}
	h.clk.Advance(10*time.Minute - time.Second)
	select {
	case <-h.started:
		t.Fatal("an iteration started before its interval was over")
	default:
	}
	h.clk.Advance(time.Second)
	h.iterate(start.Add(10*time.Minute), false) // 21:50: day
	h.clk.BlockUntil(1)
	h.clk.Advance(10 * time.Minute)
	h.iterate(start.Add(20*time.Minute), false) // 22:00: ends in the night
	h.clk.BlockUntil(1)
	if s := h.lastSleep(); !s.next.Equal(start.Add(50 * time.Minute)) {
		t.Fatalf("night sleep until %v, want +30m", s.next)
	}
	h.clk.Advance(30 * time.Minute)
	h.iterate(start.Add(50*time.Minute), false)
}

// TestLoopJitter: the random number spreads the wait.
func TestLoopJitter(t *testing.T) {
	h := newHarness(t, nil)
	h.l.Rand = func() float64 { return 0 } // -10%
	h.start()
	h.iterate(t0, false)
	h.clk.BlockUntil(1)
	h.clk.Advance(9 * time.Minute)
	h.iterate(t0.Add(9*time.Minute), false)
}

// TestLoopBackoff: failures double the wait up to backoff_max, in phase
// backoff; a success returns to the interval.
func TestLoopBackoff(t *testing.T) {
	h := newHarness(t, nil)
	h.l.Failures = 0
	h.start()
	now := t0
	h.iterate(now, true)
	for _, want := range []time.Duration{20 * time.Minute, 40 * time.Minute, time.Hour, time.Hour} {
		h.clk.BlockUntil(1)
		if s := h.lastSleep(); s.phase != runstate.Backoff || !s.next.Equal(now.Add(want)) {
			t.Fatalf("after a failure: %+v, want backoff until +%v", s, want)
		}
		h.clk.Advance(want)
		now = now.Add(want)
		h.iterate(now, true)
	}
	h.clk.BlockUntil(1)
	h.clk.Advance(time.Hour)
	now = now.Add(time.Hour)
	h.iterate(now, false) // recovered
	h.clk.BlockUntil(1)
	if s := h.lastSleep(); s.phase != runstate.Sleeping || !s.next.Equal(now.Add(10*time.Minute)) {
		t.Fatalf("after a success: %+v, want sleeping 10m", s)
	}
}

// TestLoopResumesFailures: a restarted runner keeps backing off from the
// failures its state file recorded, after its first delay.
func TestLoopResumesFailures(t *testing.T) {
	h := newHarness(t, nil)
	h.l.Failures = 2
	h.l.FirstDelay = 5 * time.Minute
	h.start()
	h.clk.BlockUntil(1)
	if s := h.lastSleep(); s.phase != runstate.Backoff {
		t.Fatalf("first wait in phase %s, want backoff", s.phase)
	}
	h.clk.Advance(5 * time.Minute)
	h.iterate(t0.Add(5*time.Minute), true)
	h.clk.BlockUntil(1)
	if s := h.lastSleep(); !s.next.Equal(t0.Add(5*time.Minute + time.Hour)) {
		t.Fatalf("third failure waits until %v, want +1h (cap)", s.next.Sub(t0))
	}
}

// fakeWaker is coord: Wait returns true once work is posted, errors while down.
type fakeWaker struct {
	mu      sync.Mutex
	down    bool
	calls   int
	waiting chan struct{} // a Wait call began
	work    chan struct{}
}

func newWaker() *fakeWaker {
	return &fakeWaker{waiting: make(chan struct{}, 100), work: make(chan struct{}, 1)}
}

func (w *fakeWaker) Wait(ctx context.Context, timeout time.Duration) (bool, error) {
	w.mu.Lock()
	w.calls++
	down := w.down
	w.mu.Unlock()
	w.waiting <- struct{}{}
	if down {
		return false, errors.New("coord at /run/x.sock: connection refused")
	}
	select {
	case <-w.work:
		return true, nil
	case <-ctx.Done():
		return false, nil
	}
}

// TestLoopEarlyWake: new work ends a sleep after the minimum gap, not before.
func TestLoopEarlyWake(t *testing.T) {
	w := newWaker()
	h := newHarness(t, w)
	h.start()
	h.iterate(t0, false)
	h.clk.BlockUntil(2) // the 10m sleep and the 30s gap
	w.work <- struct{}{}
	select {
	case <-w.waiting:
		t.Fatal("coord was asked before the minimum gap")
	default:
	}
	h.clk.Advance(30 * time.Second)
	<-w.waiting
	h.iterate(t0.Add(30*time.Second), false) // woken, not at +10m
	// No work: the schedule runs the next one.
	h.clk.BlockUntil(2)
	h.clk.Advance(30 * time.Second)
	<-w.waiting
	h.clk.Advance(10*time.Minute - 30*time.Second)
	h.iterate(t0.Add(30*time.Second+10*time.Minute), false)
}

// TestLoopNoEarlyWakeInBackoff: work arriving during a backoff does not
// retry a failing agent sooner.
func TestLoopNoEarlyWakeInBackoff(t *testing.T) {
	w := newWaker()
	h := newHarness(t, w)
	h.start()
	h.iterate(t0, true)
	h.clk.BlockUntil(1)
	w.work <- struct{}{}
	h.clk.Advance(30 * time.Second)
	h.clk.Advance(19*time.Minute + 29*time.Second)
	select {
	case <-h.started:
		t.Fatal("woken during a backoff")
	case <-w.waiting:
		t.Fatal("coord polled during a backoff")
	default:
	}
	h.clk.Advance(time.Second)
	h.iterate(t0.Add(20*time.Minute), false)
}

// TestLoopCoordDown: with coord unreachable the poll retries quietly with
// growing pauses and the schedule goes on.
func TestLoopCoordDown(t *testing.T) {
	w := newWaker()
	w.down = true
	h := newHarness(t, w)
	h.start()
	h.iterate(t0, false)
	h.clk.BlockUntil(2)
	h.clk.Advance(30 * time.Second) // gap over: first attempt
	<-w.waiting
	var pauses []time.Duration
	for range 8 {
		h.clk.BlockUntil(2) // the sleep and the retry pause
		var pause time.Duration
		now := h.clk.Now()
		for _, d := range h.clk.Deadlines() {
			if p := d.Sub(now); p < 9*time.Minute {
				pause = p
			}
		}
		pauses = append(pauses, pause)
		h.clk.Advance(pause)
		<-w.waiting
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute}
	for i := range want {
		if pauses[i] != want[i] {
			t.Fatalf("retry pauses = %v, want %v", pauses, want)
		}
	}
	// The schedule still holds.
	elapsed := h.clk.Now().Sub(t0)
	h.clk.BlockUntil(2)
	h.clk.Advance(10*time.Minute - elapsed)
	h.iterate(t0.Add(10*time.Minute), false)
}

// TestLoopBeats: the loop beats while it waits (systemd's watchdog probe).
func TestLoopBeats(t *testing.T) {
	h := newHarness(t, nil)
	beats := make(chan time.Time, 100)
	h.l.Beat = func() { beats <- h.clk.Now() }
	h.l.BeatEvery = 10 * time.Second
	h.start()
	h.iterate(t0, false)
	for i := 1; i <= 3; i++ {
		h.clk.BlockUntil(2)
		h.clk.Advance(10 * time.Second)
		if b := <-beats; !b.Equal(t0.Add(time.Duration(i) * 10 * time.Second)) {
			t.Fatalf("beat %d at +%v", i, b.Sub(t0))
		}
	}
}

// TestLoopStops: cancelling ends a sleep and an iteration alike.
func TestLoopStops(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	h.iterate(t0, false)
	h.clk.BlockUntil(1)
	h.stop()
	h2 := newHarness(t, nil)
	h2.start()
	<-h2.started // running
	h2.stop()
}
