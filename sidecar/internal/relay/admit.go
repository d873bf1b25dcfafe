package relay

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/connlimit"
	"github.com/clemhq/clem/shared/selfprobe"
)

// Rules named in refusal records, after the [limits] key that refused.
const (
	RuleConnsPerUID    = "limits.max_conns_per_uid"
	RuleConnsTotal     = "limits.max_conns"
	RuleBody           = "limits.max_body_bytes"
	RuleSessionsPerUID = "limits.max_sessions_per_uid"
	RuleSessionsTotal  = "limits.max_sessions"
	RuleUnidentified   = "identity"
)

// EventConnRefused is the Event of a connection refused at accept.
const EventConnRefused = "conn_refused"

// Admitter caps the connections each uid holds on one server's port, and
// all uids together, so one agent's flood of idle connections cannot take
// the descriptors another agent's call needs. The uid is the kernel's
// answer at accept; a connection it cannot name is refused.
type Admitter struct {
	Limiter  *connlimit.Limiter
	Identify IdentifyFunc
	Server   string
	Agents   func() map[uint32]string
	Flood    *floodLog
	// Probes are the health probe's connections (nil: none): answered
	// with the kernel's identification, never served nor audited.
	Probes *selfprobe.Expected
}

// NewAdmitter returns the admitter of one server's port; refusals are
// audited to aw, once per flood.
func NewAdmitter(server string, lim *connlimit.Limiter, identify IdentifyFunc, agents func() map[uint32]string, aw *audit.Writer) *Admitter {
	return &Admitter{Limiter: lim, Identify: identify, Server: server, Agents: agents, Flood: newFloodLog(func(r *audit.Record) { aw.Write(r) }, FloodWindow)}
}

// Listen wraps ln: Accept returns only admitted connections.
func (a *Admitter) Listen(ln net.Listener) net.Listener { return &admitListener{Listener: ln, a: a} }

// Close writes the summaries of refusal floods still open.
func (a *Admitter) Close() { a.Flood.Close() }

type admitListener struct {
	net.Listener
	a *Admitter
}

// refuseWriteTimeout bounds answering a refused connection, so a caller
// that never reads cannot keep the descriptor.
const refuseWriteTimeout = time.Second

func (l *admitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if ac := l.a.admit(c); ac != nil {
			return ac, nil
		}
	}
}

// admit takes a slot for c's uid, or answers, closes and audits c and
// returns nil.
func (a *Admitter) admit(c net.Conn) net.Conn {
	local, remote := selfprobe.AddrPort(c.LocalAddr()), selfprobe.AddrPort(c.RemoteAddr())
	if answer, ok := a.Probes.Take(remote); ok {
		answer(selfprobe.Owner(a.Identify(local, remote)))
		c.Close()
		return nil
	}
	rec := &audit.Record{Time: time.Now(), Component: Component, Event: EventConnRefused, Decision: audit.Deny, Target: a.Server, Client: c.RemoteAddr().String()}
	uid, err := a.Identify(local, remote)
	if err != nil {
		rec.Rule, rec.Status = RuleUnidentified, http.StatusForbidden
		rec.Reason = "cannot identify the caller by its socket: " + err.Error()
		a.refuse(c, rec, "403 Forbidden", "sidecar: refused: "+rec.Reason)
		return nil
	}
	release, err := a.Limiter.Acquire(uid)
	if err != nil {
		rec.UID, rec.Agent = &uid, a.Agents()[uid]
		rec.Rule, rec.Status = RuleConnsPerUID, http.StatusServiceUnavailable
		var le *connlimit.Error
		if errors.As(err, &le) && le.Total {
			rec.Rule = RuleConnsTotal
		}
		rec.Reason = fmt.Sprintf("%v: close idle connections or raise %s", err, rec.Rule)
		a.refuse(c, rec, "503 Service Unavailable", "sidecar: too many connections ("+rec.Rule+"); close some\n")
		return nil
	}
	return &admittedConn{Conn: c, uid: uid, release: release}
}

func (a *Admitter) refuse(c net.Conn, rec *audit.Record, status, msg string) {
	// The record before the answer: it exists by the time the caller sees
	// the refusal.
	a.Flood.refused(rec)
	// A fresh socket's send buffer is empty, so this write does not wait on
	// the caller; the deadline is there in case it ever would.
	c.SetWriteDeadline(time.Now().Add(refuseWriteTimeout))
	fmt.Fprintf(c, "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", status, len(msg), msg)
	c.Close()
}

// admittedConn holds its slot until closed; its uid is the kernel's answer
// at accept.
type admittedConn struct {
	net.Conn
	uid     uint32
	release func()
}

// Close gives the slot back (once) and closes the connection.
func (c *admittedConn) Close() error {
	c.release()
	return c.Conn.Close()
}
