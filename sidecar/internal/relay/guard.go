package relay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/sidecar/internal/config"
	"github.com/clemhq/clem/sidecar/internal/rpcmsg"
)

// ServeHTTP authorises the request by the uid owning the caller's socket,
// keeps each MCP session to the uid that opened it (and within the session
// caps), reads a POST body only up to limits.max_body_bytes, refuses
// malformed JSON-RPC framing and batches, and hands the rest to the MCP
// server. Everything it answers goes through the secret scrubber.
func (r *Relay) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	sw := newScrubWriter(rw, r.scrub)
	defer sw.finish()
	var w http.ResponseWriter = sw
	sc, lim := r.cfg.Load(), r.limits()
	rec := &audit.Record{Time: time.Now(), Component: Component, Event: EventRefused, Target: sc.Name, Method: req.Method, Client: req.RemoteAddr, Status: http.StatusForbidden}

	ci, _ := req.Context().Value(connKey{}).(*connInfo)
	if ci == nil {
		r.refuse(w, rec, "no connection to identify (not served by sidecar's listener)")
		return
	}
	uid, err := ci.identify(r.opts.Identify)
	if err != nil {
		r.refuse(w, rec, "cannot identify the caller by its socket: "+err.Error())
		return
	}
	rec.UID = &uid
	agent, known := r.opts.Agents()[uid]
	if !known {
		r.refuse(w, rec, fmt.Sprintf("uid %d is not a known agent", uid))
		return
	}
	rec.Agent = agent
	if !sc.Allowed(agent) {
		r.refuse(w, rec, fmt.Sprintf("agent %s is not allowed to use %s", agent, sc.Name))
		return
	}

	var parsed rpcmsg.Body
	var perr error
	var body []byte
	if req.Method == http.MethodPost {
		if body, err = readBody(w, req, lim); err != nil {
			rec.Rule, rec.Status, rec.Reason = RuleBody, http.StatusRequestEntityTooLarge, err.Error()
			rec.Decision = audit.Deny
			r.flood.refused(rec)
			rpcError(w, http.StatusRequestEntityTooLarge, rpcmsg.CodeInvalidRequest, "sidecar: "+err.Error())
			return
		}
		parsed, perr = rpcmsg.Parse(body)
		if perr == nil {
			rec.Method, rec.Path = parsed.Messages[0].Method, parsed.Messages[0].Tool
		}
	}
	initialize := req.Method == http.MethodPost && perr == nil && !parsed.Batch && parsed.Messages[0].Method == "initialize"

	sid := req.Header.Get(server.HeaderKeySessionID)
	if sid != "" && !initialize {
		owner, ok := r.sessions.owner(sid, lim.SessionIdle.Duration)
		switch {
		case ok && owner != uid:
			r.refuse(w, rec, fmt.Sprintf("session %s belongs to uid %d", sid, owner))
			return
		case !ok:
			// Unknown, ended or expired: MCP clients answer 404 by
			// initializing a new session.
			rpcError(w, http.StatusNotFound, rpcmsg.CodeInvalidRequest, "sidecar: no such MCP session (it ended or was idle too long); initialize a new one")
			return
		}
	}
	var commit func(string)
	if req.Method == http.MethodPost {
		var re *rpcmsg.Error
		switch {
		case errors.As(perr, &re):
			rpcError(w, http.StatusBadRequest, re.Code, re.Msg)
			return
		case perr != nil:
			rpcError(w, http.StatusBadRequest, rpcmsg.CodeParse, perr.Error())
			return
		case parsed.Batch:
			rpcError(w, http.StatusBadRequest, rpcmsg.CodeInvalidRequest, "JSON-RPC batches are not supported (MCP removed them in 2025-06-18): send one message per request")
			return
		}
		if initialize {
			if commit, err = r.sessions.reserve(uid, lim.MaxSessionsPerUID, lim.MaxSessions, lim.SessionIdle.Duration); err != nil {
				rec.Rule, rec.Status = RuleSessionsPerUID, http.StatusTooManyRequests
				if ce, ok := err.(*sessionCapError); ok && ce.total {
					rec.Rule = RuleSessionsTotal
				}
				rec.Decision, rec.Reason = audit.Deny, fmt.Sprintf("%v: end sessions you no longer use (DELETE) or raise %s", err, rec.Rule)
				r.flood.refused(rec)
				rpcError(w, http.StatusTooManyRequests, rpcmsg.CodeInvalidRequest, "sidecar: "+rec.Reason)
				return
			}
			// Whatever happens below, the place is filled or given back.
			defer func() { commit(w.Header().Get(server.HeaderKeySessionID)) }()
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		if m := parsed.Messages[0].Method; m == "tools/list" || m == "tools/call" {
			r.waitTools(req, sc.CallTimeout)
		}
	}
	ctx := withCaller(req.Context(), Caller{UID: uid, Agent: agent, Peer: req.RemoteAddr})
	r.http.ServeHTTP(w, req.WithContext(ctx))
	if req.Method == http.MethodDelete && sid != "" {
		r.sessions.forget(sid)
	}
}

// readBody reads a POST body of at most lim.MaxBodyBytes within
// lim.BodyTimeout. A declared length over the limit is refused before a
// byte is read; an undeclared one stops at the limit, and the connection
// is closed after the answer so the rest is never read.
func readBody(w http.ResponseWriter, req *http.Request, lim config.Limits) ([]byte, error) {
	if req.ContentLength > lim.MaxBodyBytes {
		w.Header().Set("Connection", "close")
		return nil, fmt.Errorf("request body of %d bytes is over limits.max_body_bytes (%d)", req.ContentLength, lim.MaxBodyBytes)
	}
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(lim.BodyTimeout.Duration))
	defer rc.SetReadDeadline(time.Time{})
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, lim.MaxBodyBytes))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, fmt.Errorf("request body is over limits.max_body_bytes (%d)", lim.MaxBodyBytes)
	case err != nil:
		w.Header().Set("Connection", "close")
		return nil, fmt.Errorf("request body: %w (within limits.body_timeout %s)", err, lim.BodyTimeout.Duration)
	}
	return body, nil
}

// waitTools holds a request for the tools until a backend has listed them
// (children start in the background), at most ToolsWait or timeout.
func (r *Relay) waitTools(req *http.Request, timeout time.Duration) {
	t := time.NewTimer(min(timeout, ToolsWait))
	defer t.Stop()
	select {
	case <-r.toolsReady:
	case <-t.C:
	case <-req.Context().Done():
	}
}

// ToolsWait bounds how long a request waits for a starting server's tools.
const ToolsWait = 30 * time.Second

func (r *Relay) refuse(w http.ResponseWriter, rec *audit.Record, reason string) {
	r.finish(rec, audit.Deny, reason, "")
	http.Error(w, "sidecar: refused: "+reason, http.StatusForbidden)
}

// rpcError answers the JSON-RPC way, with a null id.
func rpcError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"jsonrpc": "2.0", "id": nil,
		"error": map[string]any{"code": code, "message": msg},
	})
}
