package fakegithub

import (
	"log/slog"
	"time"
)

// Request is one request the fake received. Token is the credential as
// sent, so a test can check which one arrived (the real token behind a
// broker, say); LogValue leaves it out.
type Request struct {
	Seq    int // order of arrival, from 0
	Time   time.Time
	Host   string // HostGit or HostAPI (or whatever else was asked for)
	Method string
	Path   string
	Query  string

	// Login is the user the token authenticated as; "" when none did.
	Login string
	// Auth is how the credential came: "token", "bearer", "basic", or ""
	// when the request carried none.
	Auth  string
	Token string
	// Refused: the fake answered 401 (no or a wrong credential).
	Refused bool
	// Unknown: the fake does not implement this request (404, a Problem).
	Unknown bool
	Status  int

	// GraphQL is set for POST /graphql: the operation's type and root
	// fields, e.g. ["mutation createPullRequest"].
	GraphQL []string
	// Service is the git service of a smart-HTTP request:
	// "git-upload-pack" or "git-receive-pack".
	Service string
}

// LogValue describes the request without its token.
func (r Request) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("seq", r.Seq), slog.String("host", r.Host), slog.String("method", r.Method),
		slog.String("path", r.Path), slog.String("login", r.Login), slog.Bool("refused", r.Refused),
		slog.Int("status", r.Status))
}

// Requests returns every request so far, in order of arrival.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}
