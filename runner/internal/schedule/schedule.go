// Package schedule decides how long the runner waits between iterations:
// the day or night interval by host time, jitter so a team's agents do not
// call the model in lockstep, and exponential backoff with a cap after
// failed iterations. Pure functions of the time and a random number, so
// tests pin them down. Only runner imports it.
package schedule

import (
	"time"
)

// Schedule is the timing part of runner.toml.
type Schedule struct {
	Day, Night time.Duration
	// NightStart and NightEnd are minutes after midnight (host time);
	// equal: no night. The night may wrap midnight (22:00-07:00).
	NightStart, NightEnd int
	Jitter               float64 // fraction of the delay, 0..0.5
	BackoffMax           time.Duration
	Loc                  *time.Location // host time; nil: time.Local
}

// IsNight reports whether now falls in the night window.
func (s Schedule) IsNight(now time.Time) bool {
	if s.NightStart == s.NightEnd {
		return false
	}
	loc := s.Loc
	if loc == nil {
		loc = time.Local
	}
	t := now.In(loc)
	m := t.Hour()*60 + t.Minute()
	if s.NightStart < s.NightEnd {
		return m >= s.NightStart && m < s.NightEnd
	}
	return m >= s.NightStart || m < s.NightEnd
}

// Interval is the plain interval at now: Night at night, else Day.
func (s Schedule) Interval(now time.Time) time.Duration {
	if s.IsNight(now) {
		return s.Night
	}
	return s.Day
}

// Delay is how long to wait after an iteration that ended at now, with
// failures consecutive failed iterations so far, and rnd a uniform random
// number in [0,1): the interval doubled once per failure up to BackoffMax,
// then spread by ±Jitter, never above BackoffMax and never below one second.
func (s Schedule) Delay(now time.Time, failures int, rnd float64) time.Duration {
	d := s.Interval(now)
	for i := 0; i < failures && d < s.BackoffMax; i++ {
		d *= 2
	}
	if failures > 0 && d > s.BackoffMax {
		d = s.BackoffMax
	}
	d = time.Duration(float64(d) * (1 + s.Jitter*(2*rnd-1)))
	if failures > 0 && d > s.BackoffMax {
		d = s.BackoffMax
	}
	return max(d, time.Second)
}
