package fakegithub

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The two hosts the fake serves.
const (
	HostGit = "github.com"
	HostAPI = "api.github.com"
)

// Server is the fake, an http.Handler. Start serves it over HTTPS; New
// makes one to mount elsewhere.
type Server struct {
	root  string // bare repositories live in root/owner/name.git
	logf  func(string, ...any)
	users []User

	api    *http.ServeMux
	addr   string
	caPEM  []byte
	caFile string

	// git serialises ref changes the fake makes itself (merges, REST ref
	// updates); pushes go through git's own ref locking.
	git sync.Mutex

	mu       sync.Mutex
	repos    map[string]*repo // by "owner/name", lower case
	prs      []*PR
	keys     []SigningKey
	reqs     []Request
	problems []string
	nextID   int
}

// New makes a Server that keeps its bare repositories under root, and
// creates opts.Repos.
func New(opts Options, root string) (*Server, error) {
	if opts.Token == "" {
		return nil, errors.New("Options.Token is empty; every request would be refused")
	}
	login := opts.Login
	if login == "" {
		login = "clem-bot"
	}
	s := &Server{root: root, logf: opts.Logf, repos: map[string]*repo{}, nextID: 1000}
	s.api = s.apiMux()
	s.users = append([]User{{Login: login, Token: opts.Token}}, opts.Users...)
	for i, u := range s.users {
		if u.Login == "" || u.Token == "" {
			return nil, fmt.Errorf("Options.Users[%d]: login and token are both required", i-1)
		}
	}
	for _, name := range opts.Repos {
		if err := s.AddRepo(name, opts.Workflow); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// ServeHTTP routes by Host: git smart HTTP on github.com, the API on
// api.github.com; anything else is a 404 and a Problem.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	rec := Request{
		Time: time.Now(), Host: host, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
	}
	sw := &statusWriter{ResponseWriter: w}
	user, how, token := s.authenticate(r)
	rec.Login, rec.Auth, rec.Token = user, how, token
	switch host {
	case HostGit:
		s.serveGit(sw, r, &rec)
	case HostAPI:
		s.serveAPI(sw, r, &rec)
	default:
		rec.Unknown = true
		writeJSONError(sw, http.StatusNotFound, "Not Found")
	}
	rec.Status = sw.status
	if rec.Status == 0 {
		rec.Status = http.StatusOK
	}
	if rec.Unknown {
		s.problem("unknown request: %s %s%s (query %q) -> %d", rec.Method, rec.Host, rec.Path, rec.Query, rec.Status)
	}
	s.mu.Lock()
	rec.Seq = len(s.reqs)
	s.reqs = append(s.reqs, rec)
	s.mu.Unlock()
	if s.logf != nil {
		s.logf("fakegithub: %s %s%s login=%q refused=%v unknown=%v -> %d", rec.Method, rec.Host, rec.Path, rec.Login, rec.Refused, rec.Unknown, rec.Status)
	}
}

// authenticate returns the login whose token the request carries, how it
// came ("token", "bearer", "basic") and the token as sent. login is ""
// when the token matches no user (or there is none).
func (s *Server) authenticate(r *http.Request) (login, how, token string) {
	a := r.Header.Get("Authorization")
	scheme, rest, _ := strings.Cut(a, " ")
	switch strings.ToLower(scheme) {
	case "token":
		how, token = "token", strings.TrimSpace(rest)
	case "bearer":
		how, token = "bearer", strings.TrimSpace(rest)
	case "basic":
		how = "basic"
		if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest)); err == nil {
			_, token, _ = strings.Cut(string(b), ":")
		}
	default:
		return "", "", ""
	}
	if token == "" {
		return "", how, ""
	}
	for _, u := range s.users {
		if subtle.ConstantTimeCompare([]byte(token), []byte(u.Token)) == 1 {
			return u.Login, how, token
		}
	}
	return "", how, token
}

// problem files something the fake could not answer truthfully.
func (s *Server) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	s.problems = append(s.problems, msg)
	s.mu.Unlock()
	if s.logf != nil {
		s.logf("fakegithub: PROBLEM: %s", msg)
	}
}

// Problems lists what the fake could not answer: unknown requests, GraphQL
// fields its model lacks, unparseable documents. A test that expects none
// asserts it is empty.
func (s *Server) Problems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.problems...)
}

func (s *Server) newID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	return s.nextID
}

// statusWriter remembers the status sent.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Flush lets the CGI handler stream git's output.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
