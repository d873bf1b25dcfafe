package relay

import (
	"fmt"
	"sync"
	"time"
)

// sessionTable remembers which uid opened each MCP session, so another
// caller holding the session id cannot use it, and bounds how many
// sessions a uid (and everyone together) may hold: an agent that opens
// sessions forever is refused once it holds its share, and a session idle
// longer than session_idle is forgotten (its client gets 404 and, as MCP
// says, opens a new one). The table outlives a relay replaced on reload.
type sessionTable struct {
	mu      sync.Mutex
	m       map[string]*sessionEntry
	held    map[uint32]int // sessions and reservations per uid
	sum     int
	refused uint64
	now     func() time.Time // time.Now; tests move it
}

type sessionEntry struct {
	uid  uint32
	last time.Time
}

func newSessionTable() *sessionTable {
	return &sessionTable{m: map[string]*sessionEntry{}, held: map[uint32]int{}, now: time.Now}
}

// sessionCapError says which cap refused a new session.
type sessionCapError struct {
	uid   uint32
	total bool
	limit int
}

func (e *sessionCapError) Error() string {
	if e.total {
		return fmt.Sprintf("session limit: all agents together hold %d MCP sessions, the maximum", e.limit)
	}
	return fmt.Sprintf("session limit: uid %d holds %d MCP sessions, its maximum", e.uid, e.limit)
}

// reserve takes a place for a session uid is opening, sweeping sessions
// idle longer than idle first if a cap is reached. commit puts the session
// id the server gave in that place ("" gives it back); it must be called
// exactly once.
func (t *sessionTable) reserve(uid uint32, perUID, total int, idle time.Duration) (commit func(id string), err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.held[uid] >= perUID || t.sum >= total {
		t.sweep(idle)
	}
	switch {
	case t.held[uid] >= perUID:
		t.refused++
		return nil, &sessionCapError{uid: uid, limit: perUID}
	case t.sum >= total:
		t.refused++
		return nil, &sessionCapError{uid: uid, total: true, limit: total}
	}
	t.held[uid]++
	t.sum++
	var once sync.Once
	return func(id string) {
		once.Do(func() {
			t.mu.Lock()
			defer t.mu.Unlock()
			if _, taken := t.m[id]; id == "" || taken {
				t.drop(uid)
				return
			}
			t.m[id] = &sessionEntry{uid: uid, last: t.now()}
		})
	}, nil
}

// owner returns the uid that opened session id and marks it used, or
// false if id is unknown or was idle longer than idle (then it is dropped).
func (t *sessionTable) owner(id string, idle time.Duration) (uint32, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[id]
	if !ok {
		return 0, false
	}
	if t.now().Sub(e.last) > idle {
		t.forgetLocked(id)
		return 0, false
	}
	e.last = t.now()
	return e.uid, true
}

// forget drops session id (the client ended it).
func (t *sessionTable) forget(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.forgetLocked(id)
}

func (t *sessionTable) forgetLocked(id string) {
	if e, ok := t.m[id]; ok {
		delete(t.m, id)
		t.drop(e.uid)
	}
}

func (t *sessionTable) drop(uid uint32) {
	if t.held[uid] <= 1 {
		delete(t.held, uid)
	} else {
		t.held[uid]--
	}
	t.sum--
}

// sweep drops every session idle longer than idle; t.mu is held.
func (t *sessionTable) sweep(idle time.Duration) {
	for id, e := range t.m {
		if t.now().Sub(e.last) > idle {
			t.forgetLocked(id)
		}
	}
}

// Held is how many sessions uid holds (tests, status).
func (t *sessionTable) Held(uid uint32) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.held[uid]
}

// Len is how many sessions are open in all.
func (t *sessionTable) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}
