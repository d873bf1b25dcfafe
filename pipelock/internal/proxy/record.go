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
// The record comes first: it exists by the time the client (or anyone it
// tells) sees the refusal, and when it cannot be written the answer is 503
// saying the audit log is unavailable instead, so nothing is answered
// unaudited.
func (s *Server) refuse(c net.Conn, rec *audit.Record, status int, reason, rule string) {
	rec.Rule = rule
	if err := s.finish(rec, audit.Deny, reason, nil); audit.Unwritten(err) {
		status, reason = http.StatusServiceUnavailable, AuditUnavailable(err)
	}
	body := reason + "\n"
	fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nX-Pipelock-Conn-Id: %s\r\nConnection: close\r\n\r\n%s",
		status, http.StatusText(status), len(body), rec.ConnID, body)
}

// RuleAudit is the rule of a connection refused because the audit log
// takes no records.
const RuleAudit = "audit.unavailable"

// AuditUnavailable is the body of the 503 that refuses a connection whose
// record cannot be written.
func AuditUnavailable(err error) string {
	return "pipelock: audit log unavailable: " + err.Error()
}

// auditDown refuses the connection (503) when the audit log's latest write
// failed, before anything is allowed through: the records of an allowed
// connection come after its answer (a tunnel's open record needs the
// ClientHello the 200 lets the client send), so the answer waits on the
// log's health instead. The refusal's own record is a fresh try: once it
// is written the log is healthy again and the next connection goes ahead.
func (s *Server) auditDown(c net.Conn, rec *audit.Record) bool {
	err := s.auditErr()
	if err == nil {
		return false
	}
	s.refuse(c, rec, http.StatusServiceUnavailable, AuditUnavailable(err), RuleAudit)
	return true
}

// Events of a tunnel's two records: EventOpen when it starts carrying
// bytes, so a crash cannot lose that it existed, and EventClose with its
// bytes and duration. Refusals and plain-HTTP requests have one record.
const (
	EventOpen     = "open"
	EventClose    = "close"
	EventHandover = "handover"
)

// auditErr is the audit log's latest write error, nil while it works.
func (s *Server) auditErr() error {
	if s.audit == nil {
		return nil
	}
	return s.audit.Err()
}

// AuditErr is for the daemon's Degraded: why new connections are being
// refused, or nil.
func (s *Server) AuditErr() error { return s.auditErr() }

// opened writes the record of a tunnel that starts now, and marks rec as
// the tunnel's closing record. When the record cannot be written the
// tunnel carries nothing: opened finishes rec as cut (denied, rule
// audit.unavailable) and reports false.
func (s *Server) opened(rec *audit.Record, reason string) bool {
	open := *rec
	open.Event = EventOpen
	open.Decision = audit.Allow
	open.Reason = reason
	open.DurationMS = float64(time.Since(rec.Time).Microseconds()) / 1000
	if s.audit == nil {
		rec.Event = EventClose
		return true
	}
	if err := s.audit.Write(&open); audit.Unwritten(err) {
		rec.Rule = RuleAudit
		s.finish(rec, audit.Deny, AuditUnavailable(err), nil)
		return false
	}
	rec.Event = EventClose
	return true
}

// finish stamps the outcome, counts it and writes the record, returning
// Write's error. It is the one place a connection or plain-HTTP request is
// counted, so /metrics says what the audit log says: every final record
// (not a tunnel's open record) passes here once, and is counted by its
// decision and its bytes, and as refused for the audit log's sake when
// its rule says so or it could not be written. The counters move before
// the write, so whoever has read the record sees them.
func (s *Server) finish(rec *audit.Record, decision audit.Decision, reason string, err error) error {
	rec.Decision = decision
	rec.Reason = reason
	rec.DurationMS = float64(time.Since(rec.Time).Microseconds()) / 1000
	if err != nil && !strings.Contains(reason, err.Error()) {
		rec.Error = err.Error()
	}
	s.Stats.count(decision == audit.Allow)
	s.Stats.BytesUp.Add(rec.BytesUp)
	s.Stats.BytesDown.Add(rec.BytesDown)
	forAudit := rec.Rule == RuleAudit
	if forAudit {
		s.Stats.AuditRefused.Add(1)
	}
	if s.audit == nil {
		return nil
	}
	werr := s.audit.Write(rec)
	if !forAudit && audit.Unwritten(werr) {
		s.Stats.AuditRefused.Add(1) // the record is not in the log: no one saw it first
	}
	return werr
}
