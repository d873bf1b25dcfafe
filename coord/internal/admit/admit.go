// Package admit caps the connections each caller holds on coord's
// listeners (the agents' MCP endpoint and the unix socket), so one agent's
// flood of idle or slow connections cannot take the file descriptors and
// goroutines another agent's requests need. The caller is the kernel's
// answer (sock_diag or SO_PEERCRED) at accept, never anything it sent.
// Only coord imports it.
package admit

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/clemhq/clem/shared/connlimit"
)

// Refusal is one connection turned away: by a cap (Limit set) or because
// the kernel could not say who was calling (Err set, UID unknown). Streak
// is how many of this caller's connections in a row were refused,
// counting this one.
type Refusal struct {
	UID    uint32
	Known  bool // UID is the kernel's answer
	Limit  *connlimit.Error
	Err    error
	Streak uint64
}

// Listener admits a connection only while its caller is under the
// per-uid and total caps; a refused one gets a short 503 and is closed.
type Listener struct {
	net.Listener
	lim *connlimit.Limiter
	who func(net.Conn) (uint32, error)
	// report is called for the 1st, 2nd, 4th, 8th... refusal in a row of
	// one caller, so a flood is summarised (its size in Streak) and cannot
	// flood the audit log in turn.
	report func(Refusal)

	mu     sync.Mutex
	streak map[uint64]uint64 // uid, or unknownKey
}

const unknownKey = 1 << 32

// New wraps ln: who names each accepted connection's caller, lim holds
// the caps, report hears refusals.
func New(ln net.Listener, lim *connlimit.Limiter, who func(net.Conn) (uint32, error), report func(Refusal)) *Listener {
	return &Listener{Listener: ln, lim: lim, who: who, report: report, streak: map[uint64]uint64{}}
}

// busy is what a refused caller reads: the HTTP servers behind speak
// HTTP/1.1, so a client sees a status rather than a bare reset.
var busy = func() string {
	const msg = "coord: too many connections from you (or from everyone); close some\n"
	return fmt.Sprintf("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(msg), msg)
}()

// Accept returns the next admitted connection; refused ones are answered
// and closed here. Closing the returned connection gives its slot back.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid, err := l.who(c)
		if err != nil {
			l.refuse(c, Refusal{Err: err}, unknownKey)
			continue
		}
		release, err := l.lim.Acquire(uid)
		if err != nil {
			var le *connlimit.Error
			errors.As(err, &le)
			l.refuse(c, Refusal{UID: uid, Known: true, Limit: le, Err: err}, uint64(uid))
			continue
		}
		l.mu.Lock()
		delete(l.streak, uint64(uid))
		l.mu.Unlock()
		return &Conn{Conn: c, UID: uid, release: release}, nil
	}
}

func (l *Listener) refuse(c net.Conn, r Refusal, key uint64) {
	l.mu.Lock()
	l.streak[key]++
	r.Streak = l.streak[key]
	l.mu.Unlock()
	// The record before the answer: it exists by the time the caller (or
	// anyone it tells) sees the refusal.
	if r.Streak&(r.Streak-1) == 0 && l.report != nil {
		l.report(r)
	}
	// A fresh socket's send buffer is empty, so this write does not wait
	// on the caller; the deadline is there in case it ever would.
	c.SetWriteDeadline(time.Now().Add(time.Second))
	c.Write([]byte(busy))
	c.Close()
}

// Conn is an admitted connection; Close gives its slot back.
type Conn struct {
	net.Conn
	UID     uint32
	release func()
}

// Close releases the connection's slot (once) and closes it. The slot
// goes first, so a caller that sees the connection end may count on
// having the slot back.
func (c *Conn) Close() error {
	c.release()
	return c.Conn.Close()
}

// Unwrap returns the accepted connection, for code that needs its type
// (SO_PEERCRED on a *net.UnixConn).
func (c *Conn) Unwrap() net.Conn { return c.Conn }

// Unwrap returns the connection under c if c is an admitted one.
func Unwrap(c net.Conn) net.Conn {
	if ac, ok := c.(*Conn); ok {
		return ac.Conn
	}
	return c
}
