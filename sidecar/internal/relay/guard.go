package relay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/sidecar/internal/rpcmsg"
)

// MaxBody bounds one POST body.
const MaxBody = 16 << 20

// ServeHTTP authorises the request by the uid owning the caller's socket,
// refuses malformed JSON-RPC framing and batches, keeps each MCP session to
// the uid that opened it, and hands the rest to the MCP server.
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	sc := r.cfg.Load()
	rec := &audit.Record{Time: time.Now(), Component: Component, Event: EventRefused, Target: sc.Name, Method: req.Method, Client: req.RemoteAddr, Status: http.StatusForbidden}
	var body []byte
	var parsed rpcmsg.Body
	var perr error
	if req.Method == http.MethodPost {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, req.Body, MaxBody))
		if err != nil {
			http.Error(w, "sidecar: request body: "+err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		parsed, perr = rpcmsg.Parse(body)
		if perr == nil {
			rec.Method, rec.Path = parsed.Messages[0].Method, parsed.Messages[0].Tool
		}
	}

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
	sid := req.Header.Get(server.HeaderKeySessionID)
	if owner, ok := r.sessions.owner(sid); ok && owner != uid {
		r.refuse(w, rec, fmt.Sprintf("session %s belongs to uid %d", sid, owner))
		return
	}
	if req.Method == http.MethodPost {
		var re *rpcmsg.Error
		switch {
		case errors.As(perr, &re):
			rpcError(w, re.Code, re.Msg)
			return
		case perr != nil:
			rpcError(w, rpcmsg.CodeParse, perr.Error())
			return
		case parsed.Batch:
			rpcError(w, rpcmsg.CodeInvalidRequest, "JSON-RPC batches are not supported (MCP removed them in 2025-06-18): send one message per request")
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		if m := parsed.Messages[0].Method; m == "tools/list" || m == "tools/call" {
			r.waitTools(req, sc.CallTimeout)
		}
	}
	ctx := withCaller(req.Context(), Caller{UID: uid, Agent: agent, Peer: req.RemoteAddr})
	r.http.ServeHTTP(w, req.WithContext(ctx))

	switch {
	case req.Method == http.MethodPost && parsed.Messages[0].Method == "initialize":
		if id := w.Header().Get(server.HeaderKeySessionID); id != "" {
			r.sessions.claim(id, uid)
		}
	case req.Method == http.MethodDelete && sid != "":
		r.sessions.forget(sid)
	}
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

// rpcError answers a framing problem the JSON-RPC way, with a null id.
func rpcError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]any{
		"jsonrpc": "2.0", "id": nil,
		"error": map[string]any{"code": code, "message": msg},
	})
}

// sessionOwners remembers which uid opened each MCP session, so another
// caller holding the session id cannot use it.
type sessionOwners struct {
	mu sync.Mutex
	m  map[string]sessionOwner
}

type sessionOwner struct {
	uid uint32
	at  time.Time
}

// maxSessions bounds the map; beyond it, sessions idle for a day are dropped.
const maxSessions = 10000

func (s *sessionOwners) claim(id string, uid uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]sessionOwner{}
	}
	if len(s.m) >= maxSessions {
		for k, o := range s.m {
			if time.Since(o.at) > 24*time.Hour {
				delete(s.m, k)
			}
		}
	}
	if _, taken := s.m[id]; !taken {
		s.m[id] = sessionOwner{uid, time.Now()}
	}
}

func (s *sessionOwners) owner(id string) (uint32, bool) {
	if id == "" {
		return 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.m[id]
	if ok {
		o.at = time.Now()
		s.m[id] = o
	}
	return o.uid, ok
}

func (s *sessionOwners) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}
