package schedule

import (
	"math/rand/v2"
	"testing"
	"time"
)

var loc = time.FixedZone("host", 2*3600)

func at(h, m int) time.Time { return time.Date(2026, 3, 4, h, m, 0, 0, loc) }

func sched() Schedule {
	return Schedule{Day: 10 * time.Minute, Night: 30 * time.Minute, NightStart: 22 * 60, NightEnd: 7 * 60,
		Jitter: 0.1, BackoffMax: 2 * time.Hour, Loc: loc}
}

func TestNight(t *testing.T) {
	s := sched()
	for _, tc := range []struct {
		h, m  int
		night bool
	}{
		{21, 59, false}, {22, 0, true}, {23, 30, true}, {0, 0, true}, {6, 59, true}, {7, 0, false}, {12, 0, false},
	} {
		if got := s.IsNight(at(tc.h, tc.m)); got != tc.night {
			t.Errorf("IsNight(%02d:%02d) = %v, want %v", tc.h, tc.m, got, tc.night)
		}
		want := s.Day
		if tc.night {
			want = s.Night
		}
		if got := s.Interval(at(tc.h, tc.m)); got != want {
			t.Errorf("Interval(%02d:%02d) = %v, want %v", tc.h, tc.m, got, want)
		}
	}
	// In UTC 21:00 is 23:00 host time: the schedule's location counts.
	if !s.IsNight(time.Date(2026, 3, 4, 21, 0, 0, 0, time.UTC)) {
		t.Error("21:00 UTC (23:00 host) is not night")
	}
	// A night that does not wrap midnight.
	s.NightStart, s.NightEnd = 1*60, 5*60
	if s.IsNight(at(0, 30)) || !s.IsNight(at(1, 0)) || s.IsNight(at(5, 0)) {
		t.Error("01:00-05:00 night misplaced")
	}
	s.NightStart, s.NightEnd = 0, 0
	if s.IsNight(at(3, 0)) {
		t.Error("no night configured, but 03:00 is night")
	}
}

// TestJitterBounds: the delay stays within ±Jitter of the interval, and
// spreads over that range.
func TestJitterBounds(t *testing.T) {
	s := sched()
	noon := at(12, 0)
	if d := s.Delay(noon, 0, 0.5); d != 10*time.Minute {
		t.Errorf("Delay(rnd 0.5) = %v, want exactly the interval", d)
	}
	if d := s.Delay(noon, 0, 0); d != 9*time.Minute {
		t.Errorf("Delay(rnd 0) = %v, want 9m", d)
	}
	r := rand.New(rand.NewPCG(1, 2))
	lo, hi := time.Hour, time.Duration(0)
	for range 10000 {
		d := s.Delay(noon, 0, r.Float64())
		lo, hi = min(lo, d), max(hi, d)
		if d < 9*time.Minute || d > 11*time.Minute {
			t.Fatalf("Delay = %v, outside 9m..11m", d)
		}
	}
	if lo > 9*time.Minute+6*time.Second || hi < 11*time.Minute-6*time.Second {
		t.Errorf("delays spread only over %v..%v", lo, hi)
	}
	if d := s.Delay(at(23, 0), 0, 0.999999); d > 33*time.Minute || d < 32*time.Minute {
		t.Errorf("night Delay(rnd ~1) = %v, want ~33m", d)
	}
	s.Jitter = 0
	if d := s.Delay(noon, 0, 0.9); d != 10*time.Minute {
		t.Errorf("no jitter: Delay = %v", d)
	}
}

// TestBackoff: each failure doubles the wait, up to the cap, jitter included.
func TestBackoff(t *testing.T) {
	s := sched()
	noon := at(12, 0)
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{
		{0, 10 * time.Minute}, {1, 20 * time.Minute}, {2, 40 * time.Minute}, {3, 80 * time.Minute},
		{4, 2 * time.Hour}, {5, 2 * time.Hour}, {1000, 2 * time.Hour},
	} {
		if got := s.Delay(noon, tc.failures, 0.5); got != tc.want {
			t.Errorf("Delay(failures %d) = %v, want %v", tc.failures, got, tc.want)
		}
		if got := s.Delay(noon, tc.failures, 0.9999); got > s.BackoffMax && tc.failures > 0 {
			t.Errorf("Delay(failures %d, high jitter) = %v, above the cap %v", tc.failures, got, s.BackoffMax)
		}
	}
	s.Day = 300 * time.Millisecond
	s.Jitter = 0.5
	if d := s.Delay(noon, 0, 0); d != time.Second {
		t.Errorf("Delay floor = %v, want 1s", d)
	}
}
