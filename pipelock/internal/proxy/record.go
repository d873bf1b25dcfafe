package proxy

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/clemhq/clem/shared/audit"
)

func (s *Server) newRecord(who caller, start time.Time) *audit.Record {
	r := &audit.Record{
		Time:      start,
		ConnID:    audit.NewConnID(),
		Component: "pipelock",
		Client:    who.name,
	}
	if who.known {
		uid := who.uid
		r.UID = &uid
	}
	return r
}

// refuse answers the client with status and reason, and audits the refusal.
func (s *Server) refuse(c net.Conn, rec *audit.Record, status int, reason, rule string) {
	rec.Rule = rule
	s.Stats.count(false)
	// The record before the answer: it exists by the time the client (or
	// anyone it tells) sees the refusal.
	s.finish(rec, audit.Deny, reason, nil)
	body := reason + "\n"
	fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nX-Pipelock-Conn-Id: %s\r\nConnection: close\r\n\r\n%s",
		status, http.StatusText(status), len(body), rec.ConnID, body)
}

// Events of a tunnel's two records: EventOpen when it starts carrying
// bytes, so a crash cannot lose that it existed, and EventClose with its
// bytes and duration. Refusals and plain-HTTP requests have one record.
const (
	EventOpen     = "open"
	EventClose    = "close"
	EventHandover = "handover"
)

// opened writes the record of a tunnel that starts now, and marks rec as
// the tunnel's closing record.
func (s *Server) opened(rec *audit.Record, reason string) {
	open := *rec
	open.Event = EventOpen
	open.Decision = audit.Allow
	open.Reason = reason
	open.DurationMS = float64(time.Since(rec.Time).Microseconds()) / 1000
	if s.audit != nil {
		s.audit.Write(&open)
	}
	rec.Event = EventClose
}

// finish stamps the outcome and writes the record.
func (s *Server) finish(rec *audit.Record, decision audit.Decision, reason string, err error) {
	rec.Decision = decision
	rec.Reason = reason
	rec.DurationMS = float64(time.Since(rec.Time).Microseconds()) / 1000
	if err != nil && !strings.Contains(reason, err.Error()) {
		rec.Error = err.Error()
	}
	if s.audit != nil {
		s.audit.Write(rec)
	}
}
