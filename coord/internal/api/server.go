// Package api serves coord's unix socket (routes in shared/coordapi) to
// runners, the watchdog and operators. Each connection's caller is the uid
// SO_PEERCRED reports, mapped to a role by the core; an unknown uid is
// refused before any route runs, and every request is audited. Only coord
// imports it.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/clemhq/clem/coord/internal/admit"
	"github.com/clemhq/clem/coord/internal/backend"
	"github.com/clemhq/clem/coord/internal/core"
	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/coordapi"
	"github.com/clemhq/clem/shared/peer"
	"github.com/clemhq/clem/shared/unixsock"
)

type ctxKey struct{}

type connInfo struct {
	cred peer.Cred
	err  error
}

// Timeouts and sizes of the socket. No write timeout: /v1/wait answers
// after up to coordapi.MaxWaitS; a caller's connections are capped instead
// (socket.conns).
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 30 * time.Second // header and body
	IdleTimeout       = 60 * time.Second
	MaxHeaderBytes    = 16 << 10
)

// Server is the unix API.
type Server struct {
	core  *core.Core
	audit *audit.Writer
	http  *http.Server
}

// New returns the API over c, auditing to aw.
func New(c *core.Core, aw *audit.Writer) *Server {
	s := &Server{core: c, audit: aw}
	s.http = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ConnContext: func(ctx context.Context, conn net.Conn) context.Context {
			ci := &connInfo{err: errors.New("not a unix socket")}
			if uc, ok := admit.Unwrap(conn).(*net.UnixConn); ok {
				ci.cred, ci.err = peer.UnixPeer(uc)
			}
			return context.WithValue(ctx, ctxKey{}, ci)
		},
	}
	return s
}

// Listen creates the socket at path (replacing a stale one), world
// connectable (mode 0666): who may do what is decided per connection by
// SO_PEERCRED, not by file mode, since agents, the watchdog and operators
// are different users.
func Listen(path string) (net.Listener, error) {
	ln, err := unixsock.Listen(path, 0o755, 0o666)
	if err != nil {
		return nil, fmt.Errorf("coord socket: %w", err)
	}
	return ln, nil
}

// Serve answers on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.http.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops serving; long polls end when ctx is done.
func (s *Server) Shutdown(ctx context.Context) error { return s.http.Shutdown(ctx) }

type handler func(w http.ResponseWriter, r *http.Request, cl core.Caller, rec *audit.Record) (status int, body any)

// Handler routes the API. Each route names the roles allowed to call it.
func (s *Server) Handler() http.Handler {
	m := http.NewServeMux()
	route := func(pattern string, h handler, roles ...core.Role) {
		m.HandleFunc(pattern, s.wrap(h, roles))
	}
	all := []core.Role{core.Agent, core.Watchdog, core.Operator}
	route(coordapi.RouteHealth, s.health, all...)
	route(coordapi.RouteInbox, s.inbox, core.Agent)
	route(coordapi.RouteInboxAck, s.ack, core.Agent)
	route(coordapi.RouteWait, s.wait, core.Agent)
	route(coordapi.RouteHeartbeat, s.heartbeat, core.Agent)
	route(coordapi.RouteAlert, s.alert, core.Watchdog, core.Operator)
	route(coordapi.RouteTasks, s.tasks, core.Operator)
	route(coordapi.RouteAddTask, s.addTask, core.Operator)
	route(coordapi.RouteTask, s.task, core.Operator)
	route(coordapi.RouteComment, s.comment, core.Operator)
	route(coordapi.RoutePost, s.post, core.Operator)
	route(coordapi.RouteAlerts, s.alerts, core.Operator)
	// Unknown routes are refused by the same identity check first.
	m.HandleFunc("/", s.wrap(func(http.ResponseWriter, *http.Request, core.Caller, *audit.Record) (int, any) {
		return http.StatusNotFound, errors.New("no such route")
	}, all))
	return m
}

func (s *Server) wrap(h handler, roles []core.Role) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := audit.Record{Component: "coord", Event: "api", Method: r.Method, Path: r.URL.Path}
		status, body := s.serve(w, r, h, roles, &rec)
		rec.Status = status
		if status < 300 {
			rec.Decision = audit.Allow
		} else {
			rec.Decision = audit.Deny
		}
		if err, ok := body.(error); ok {
			rec.Reason = err.Error()
			body = coordapi.ErrorResponse{Error: err.Error()}
		}
		rec.DurationMS = audit.Millis(time.Since(start))
		s.audit.Write(&rec)
		if status == http.StatusNoContent || body == nil {
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(body)
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, h handler, roles []core.Role, rec *audit.Record) (int, any) {
	ci, _ := r.Context().Value(ctxKey{}).(*connInfo)
	if ci == nil || ci.err != nil {
		return http.StatusForbidden, errors.New("cannot tell who is calling (SO_PEERCRED failed)")
	}
	rec.UID, rec.PID = new(ci.cred.UID), int(ci.cred.PID)
	cl := s.core.Identify(ci.cred.UID)
	if cl.Role == core.Unknown {
		return http.StatusForbidden, fmt.Errorf("uid %d is not an agent, the watchdog or an operator of this project", ci.cred.UID)
	}
	rec.Agent = cl.Agent
	rec.Rule = cl.Role.String()
	for _, role := range roles {
		if role == cl.Role {
			if r.ContentLength > coordapi.MaxBody {
				// Refused unread: Decode would stop at the limit anyway,
				// but a declared size says enough.
				w.Header().Set("Connection", "close")
				return http.StatusRequestEntityTooLarge, fmt.Errorf("request body of %d bytes, over %d", r.ContentLength, coordapi.MaxBody)
			}
			r.Body = http.MaxBytesReader(w, r.Body, coordapi.MaxBody)
			return h(w, r, cl, rec)
		}
	}
	return http.StatusForbidden, fmt.Errorf("%s %s is not for the %s role", r.Method, r.URL.Path, cl.Role)
}

// fail maps an error to a status: the backend's sentinels are the
// caller's problem, temporary failures are 503, anything else 500.
func fail(err error) (int, any) {
	switch {
	case errors.Is(err, backend.ErrNotFound):
		return http.StatusNotFound, err
	case errors.Is(err, backend.ErrConflict), errors.Is(err, backend.ErrNotYours),
		errors.Is(err, backend.ErrNotHolder), errors.Is(err, backend.ErrTransition):
		return http.StatusConflict, err
	case errors.Is(err, core.ErrForbidden):
		return http.StatusForbidden, err
	}
	if _, temp := backend.IsTemporary(err); temp {
		return http.StatusServiceUnavailable, err
	}
	return http.StatusInternalServerError, err
}

// badRequest is a 400, or a 413 for a body over coordapi.MaxBody.
func badRequest(err error) (int, any) {
	if errors.Is(err, coordapi.ErrTooLarge) {
		return http.StatusRequestEntityTooLarge, err
	}
	return http.StatusBadRequest, err
}
