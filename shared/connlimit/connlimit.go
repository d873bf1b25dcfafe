// Package connlimit caps concurrent connections (or requests) per caller
// and in total, so one agent's flood cannot take a daemon's file
// descriptors, memory or workers from another agent. The key is the
// caller's kernel identity (a uid from sock_diag or SO_PEERCRED), never
// something the caller sent. pipelock, agent-vault, coord and sidecar
// import it.
package connlimit

import (
	"fmt"
	"sync"
)

// Limiter counts what each key holds. The zero value is not usable; call
// New.
type Limiter struct {
	perKey, total int

	mu      sync.Mutex
	held    map[uint32]int
	sum     int
	refused map[uint32]uint64
}

// Error says which cap refused a caller.
type Error struct {
	Key   uint32
	Total bool // the daemon-wide cap, not the caller's own
	Limit int
}

func (e *Error) Error() string {
	if e.Total {
		return fmt.Sprintf("connection limit: all callers together hold %d, the maximum", e.Limit)
	}
	return fmt.Sprintf("connection limit: uid %d holds %d, its maximum", e.Key, e.Limit)
}

// New returns a limiter allowing perKey concurrent holds for each key and
// total for all keys together. A value <= 0 means no cap of that kind.
func New(perKey, total int) *Limiter {
	return &Limiter{perKey: perKey, total: total, held: map[uint32]int{}, refused: map[uint32]uint64{}}
}

// Acquire takes one slot for key. On success the returned release gives
// it back (calling it more than once is harmless); on refusal err is an
// *Error and release is nil. The per-key cap is checked first, so a
// caller at its own cap is told so even when the total is also reached.
func (l *Limiter) Acquire(key uint32) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perKey > 0 && l.held[key] >= l.perKey {
		l.refused[key]++
		return nil, &Error{Key: key, Limit: l.perKey}
	}
	if l.total > 0 && l.sum >= l.total {
		l.refused[key]++
		return nil, &Error{Key: key, Total: true, Limit: l.total}
	}
	l.held[key]++
	l.sum++
	var once sync.Once
	return func() { once.Do(func() { l.release(key) }) }, nil
}

func (l *Limiter) release(key uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[key] <= 1 {
		delete(l.held, key)
	} else {
		l.held[key]--
	}
	l.sum--
}

// Held is what key holds now.
func (l *Limiter) Held(key uint32) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held[key]
}

// Total is what all keys hold now.
func (l *Limiter) Total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sum
}

// Refused is how many acquisitions of key were refused since New, for
// metrics.
func (l *Limiter) Refused(key uint32) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.refused[key]
}

// SetLimits changes the caps (a reload). Slots already held stay held; a
// lowered cap refuses new acquisitions until holders release.
func (l *Limiter) SetLimits(perKey, total int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.perKey, l.total = perKey, total
}
