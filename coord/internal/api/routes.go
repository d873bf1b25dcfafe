package api

import (
	"context"
	"net/http"
	"time"

	"github.com/clemhq/clem/coord/internal/backend"
	"github.com/clemhq/clem/coord/internal/core"
	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/coordapi"
)

func (s *Server) health(_ http.ResponseWriter, r *http.Request, cl core.Caller, _ *audit.Record) (int, any) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.core.Probe(ctx); err != nil {
		return http.StatusServiceUnavailable, err
	}
	return http.StatusOK, map[string]string{"status": "ok", "role": cl.Role.String(), "backend": s.core.Backend().Kind()}
}

func (s *Server) inbox(_ http.ResponseWriter, r *http.Request, cl core.Caller, _ *audit.Record) (int, any) {
	items, cur, err := s.core.Inbox(r.Context(), cl.Agent)
	if err != nil {
		return fail(err)
	}
	return http.StatusOK, coordapi.InboxResponse{Agent: cl.Agent, Items: items, Cursor: cur}
}

func (s *Server) ack(_ http.ResponseWriter, r *http.Request, cl core.Caller, _ *audit.Record) (int, any) {
	req, err := coordapi.Decode[coordapi.AckRequest](r.Body)
	if err != nil {
		return badRequest(err)
	}
	if err := s.core.Ack(cl.Agent, req.Cursor); err != nil {
		return fail(err)
	}
	return http.StatusNoContent, nil
}

// ParseWait reads /v1/wait's timeout: a Go duration, at least 1s, at most
// coordapi.MaxWaitS; default 60s.
func ParseWait(s string) (time.Duration, error) {
	if s == "" {
		return time.Minute, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Second || d > coordapi.MaxWaitS*time.Second {
		return 0, errBadWait(s)
	}
	return d, nil
}

type errBadWait string

func (e errBadWait) Error() string {
	return "timeout " + string(e) + ": want a duration from 1s to 300s"
}

func (s *Server) wait(_ http.ResponseWriter, r *http.Request, cl core.Caller, _ *audit.Record) (int, any) {
	d, err := ParseWait(r.URL.Query().Get("timeout"))
	if err != nil {
		return badRequest(err)
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	defer cancel()
	ok, err := s.core.Wait(ctx, cl.Agent)
	switch {
	case err != nil:
		return fail(err)
	case ok:
		return http.StatusOK, map[string]bool{"pending": true}
	}
	return http.StatusNoContent, nil
}

func (s *Server) heartbeat(_ http.ResponseWriter, r *http.Request, cl core.Caller, _ *audit.Record) (int, any) {
	ids, err := s.core.Heartbeat(r.Context(), cl.Agent)
	if err != nil {
		return fail(err)
	}
	return http.StatusOK, coordapi.HeartbeatResponse{Renewed: ids}
}

func (s *Server) alert(_ http.ResponseWriter, r *http.Request, cl core.Caller, rec *audit.Record) (int, any) {
	req, err := coordapi.Decode[coordapi.AlertRequest](r.Body)
	if err != nil {
		return badRequest(err)
	}
	rec.Target = req.Subject
	queued, err := s.core.Alert(r.Context(), cl.Author(), req)
	if err != nil {
		return fail(err)
	}
	return accepted(queued, nil)
}

func accepted(queued bool, t *backend.Task) (int, any) {
	if queued {
		return http.StatusAccepted, coordapi.TaskResponse{Task: t, Queued: true}
	}
	return http.StatusOK, coordapi.TaskResponse{Task: t}
}

func (s *Server) tasks(_ http.ResponseWriter, r *http.Request, _ core.Caller, _ *audit.Record) (int, any) {
	var f backend.Filter
	if st := r.URL.Query().Get("state"); st != "" {
		state, err := backend.ParseState(st)
		if err != nil {
			return badRequest(err)
		}
		f.State = state
	}
	ts, err := s.core.Backend().List(r.Context(), f)
	if err != nil {
		return fail(err)
	}
	if ts == nil {
		ts = []backend.Task{}
	}
	return http.StatusOK, ts
}

func (s *Server) addTask(_ http.ResponseWriter, r *http.Request, cl core.Caller, rec *audit.Record) (int, any) {
	req, err := coordapi.Decode[coordapi.AddTaskRequest](r.Body)
	if err != nil {
		return badRequest(err)
	}
	t, err := s.core.AddTask(r.Context(), cl.Author(), req)
	if err != nil {
		return fail(err)
	}
	rec.Target = "task " + t.ID
	return http.StatusCreated, coordapi.TaskResponse{Task: &t}
}

func (s *Server) task(_ http.ResponseWriter, r *http.Request, _ core.Caller, rec *audit.Record) (int, any) {
	id := r.PathValue("id")
	rec.Target = "task " + id
	t, err := s.core.Backend().Get(r.Context(), id)
	if err != nil {
		return fail(err)
	}
	return http.StatusOK, t
}

func (s *Server) comment(_ http.ResponseWriter, r *http.Request, cl core.Caller, rec *audit.Record) (int, any) {
	id := r.PathValue("id")
	rec.Target = "task " + id
	req, err := coordapi.Decode[coordapi.CommentRequest](r.Body)
	if err != nil {
		return badRequest(err)
	}
	queued, err := s.core.Comment(r.Context(), cl.Author(), id, req.Body)
	if err != nil {
		return fail(err)
	}
	return accepted(queued, nil)
}

func (s *Server) post(_ http.ResponseWriter, r *http.Request, cl core.Caller, rec *audit.Record) (int, any) {
	req, err := coordapi.Decode[coordapi.PostRequest](r.Body)
	if err != nil {
		return badRequest(err)
	}
	rec.Target = req.To
	queued, err := s.core.Post(r.Context(), cl.Author(), req.To, req.Body)
	if err != nil {
		return fail(err)
	}
	return accepted(queued, nil)
}

func (s *Server) alerts(_ http.ResponseWriter, _ *http.Request, _ core.Caller, _ *audit.Record) (int, any) {
	as, err := s.core.Alerts(50)
	if err != nil {
		return fail(err)
	}
	if as == nil {
		as = []backend.Alert{}
	}
	return http.StatusOK, as
}
