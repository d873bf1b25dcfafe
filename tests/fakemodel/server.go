package fakemodel

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Config sets up a Server.
type Config struct {
	// Keys are the accepted credentials, sent by the client in X-Api-Key or
	// as Authorization: Bearer. At least one; anything else gets 401.
	Keys []string
	// Scripts are the turns per conversation (see Marker); SetScript adds
	// more later.
	Scripts map[string]Script
	// Default answers conversations without a script of their own, each
	// from its first turn. Nil: such requests get a 400 and a Problem.
	Default Script
	// Idle, if set, answers every request of a conversation that has no
	// script of its own, however many: an agent's idle iterations, which
	// all send the same prompt.
	Idle *Turn
	// Logf, if set, gets one line per request (never a header or a body).
	Logf func(format string, args ...any)
}

// maxBody bounds a request body; the CLI's requests are well under it.
const maxBody = 32 << 20

// Server is the fake API, an http.Handler. Start and StartTLS serve it on
// loopback; it can also be mounted in another server.
type Server struct {
	// URL is the base URL when started with Start or StartTLS.
	URL string

	keys [][]byte
	logf func(string, ...any)
	done chan struct{} // closed by Close: releases stalled replies
	stop sync.Once

	mu       sync.Mutex
	scripts  map[string]Script
	def      Script
	idle     *Turn
	next     map[string]int // conversation -> index of its next turn
	reqs     []Request
	problems []string
	calls    map[string]ToolCall // tool_use id the fake sent -> the call
	searched map[string]bool     // conversation NUL tool: ToolSearch sent for it

	fault     *Fault        // SetFault: what every request gets now
	faultLeft int           // requests left before a counted fault clears
	faultGone chan struct{} // closed when the fault clears
	faulted   int           // requests answered with a fault

	arrived map[string]bool // paths whose request headers came in
}

// New makes a Server from cfg, checking every scripted turn.
func New(cfg Config) (*Server, error) {
	if len(cfg.Keys) == 0 {
		return nil, fmt.Errorf("fakemodel: Config.Keys is empty; every request would be refused")
	}
	s := &Server{
		logf:     cfg.Logf,
		done:     make(chan struct{}),
		scripts:  map[string]Script{},
		next:     map[string]int{},
		calls:    map[string]ToolCall{},
		searched: map[string]bool{},
		arrived:  map[string]bool{},
	}
	for i, k := range cfg.Keys {
		if k == "" {
			return nil, fmt.Errorf("fakemodel: Config.Keys[%d] is empty", i)
		}
		s.keys = append(s.keys, []byte(k))
	}
	if err := validate(cfg.Default); err != nil {
		return nil, fmt.Errorf("fakemodel: Config.Default: %w", err)
	}
	s.def = cfg.Default
	s.idle = cfg.Idle
	for name, sc := range cfg.Scripts {
		if err := validate(sc); err != nil {
			return nil, fmt.Errorf("fakemodel: Config.Scripts[%q]: %w", name, err)
		}
		s.scripts[name] = sc
	}
	return s, nil
}

func validate(sc Script) error {
	for i, t := range sc {
		if err := t.validate(); err != nil {
			return fmt.Errorf("turn %d: %w", i, err)
		}
	}
	return nil
}

// SetScript sets the turns of a conversation and starts it over. It panics
// on a malformed turn, a mistake in the test itself.
func (s *Server) SetScript(conversation string, turns ...Turn) {
	if err := validate(turns); err != nil {
		panic(fmt.Sprintf("fakemodel: SetScript(%q): %v", conversation, err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scripts[conversation] = turns
	delete(s.next, conversation)
	for k := range s.searched {
		if strings.HasPrefix(k, conversation+"\x00") {
			delete(s.searched, k)
		}
	}
}

// Arrived reports whether a request for path has come in, even one whose
// body is still arriving (Requests lists it only once it is read): a test
// waits for it to know an upload is in flight.
func (s *Server) Arrived(path string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.arrived[path]
}

// Close releases stalled replies. Start and StartTLS also stop serving.
func (s *Server) Close() {
	s.stop.Do(func() { close(s.done) })
}

func (s *Server) newID(prefix string) string {
	b := make([]byte, 12)
	rand.Read(b)
	return prefix + "01" + hex.EncodeToString(b)
}

// ServeHTTP answers the Messages API and the side endpoints the CLI calls.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.arrived[r.URL.Path] = true
	s.mu.Unlock()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	rec := Request{
		Time: time.Now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body, RemoteAddr: r.RemoteAddr, Turn: -1,
		RequestID: s.newID("req_"),
	}
	w.Header().Set("Request-Id", rec.RequestID)
	s.mu.Lock()
	rec.Seq = len(s.reqs)
	s.reqs = append(s.reqs, rec)
	s.mu.Unlock()
	status := s.serve(w, r, &rec, body, err)
	rec.Status = status
	s.commit(rec)
	if s.logf != nil {
		s.logf("fakemodel: %s %s conversation=%q turn=%d -> %d", rec.Method, rec.Path, rec.Conversation, rec.Turn, status)
	}
}

// commit stores what is known of a request so far; a stalled reply is
// visible in Requests while it hangs.
func (s *Server) commit(rec Request) {
	s.mu.Lock()
	s.reqs[rec.Seq] = rec
	s.mu.Unlock()
}

// serve answers one request and returns the status it sent.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, rec *Request, body []byte, readErr error) int {
	if readErr != nil {
		writeError(w, http.StatusBadRequest, "", "reading the request body: "+readErr.Error(), rec.RequestID)
		return http.StatusBadRequest
	}
	if len(body) > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, "", "request body over 32 MiB", rec.RequestID)
		return http.StatusRequestEntityTooLarge
	}
	// The CLI asks these of api.anthropic.com; 404 is what it tolerates.
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeError(w, http.StatusNotFound, "", "Not Found", rec.RequestID)
		return http.StatusNotFound
	}
	// Parsed before the key check so a refused request is still filed
	// under its conversation.
	var req *MessagesRequest
	var parseErr error
	if r.URL.Path == "/v1/messages" && r.Method == http.MethodPost {
		if req, parseErr = ParseMessagesRequest(body); req != nil {
			rec.Messages, rec.Conversation = req, req.Conversation()
		}
	}
	if st, msg := s.authenticate(r); st != 0 {
		writeError(w, st, "", msg, rec.RequestID)
		return st
	}
	switch {
	case r.URL.Path == "/v1/messages" && r.Method == http.MethodPost:
		if parseErr != nil {
			s.problem("%s: %v", rec.RequestID, parseErr)
			writeError(w, http.StatusBadRequest, "", parseErr.Error(), rec.RequestID)
			return http.StatusBadRequest
		}
		return s.messages(w, r, rec, req, len(body))
	case r.URL.Path == "/v1/messages/count_tokens" && r.Method == http.MethodPost:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"input_tokens":%d}`, tokens(len(body)))
		return http.StatusOK
	case r.URL.Path == "/v1/messages" || r.URL.Path == "/v1/messages/count_tokens":
		writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "Method Not Allowed", rec.RequestID)
		return http.StatusMethodNotAllowed
	}
	writeError(w, http.StatusNotFound, "", "Not Found", rec.RequestID)
	return http.StatusNotFound
}

// authenticate returns 0 for an accepted key, else the status and message
// the real API answers with.
func (s *Server) authenticate(r *http.Request) (int, string) {
	got, how := credential(r.Header)
	if got == "" {
		return http.StatusUnauthorized, "x-api-key header is required"
	}
	for _, k := range s.keys {
		if subtle.ConstantTimeCompare([]byte(got), k) == 1 {
			return 0, ""
		}
	}
	if how == "bearer" {
		return http.StatusUnauthorized, "Invalid bearer token"
	}
	return http.StatusUnauthorized, "invalid x-api-key"
}

// credential is the key a request carries and where: "x-api-key" or "bearer".
func credential(h http.Header) (string, string) {
	if k := h.Get("X-Api-Key"); k != "" {
		return k, "x-api-key"
	}
	if a, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer "); ok && a != "" {
		return a, "bearer"
	}
	return "", ""
}

// messages answers POST /v1/messages with the conversation's next turn.
func (s *Server) messages(w http.ResponseWriter, r *http.Request, rec *Request, req *MessagesRequest, size int) int {
	if f, gone := s.takeFault(); f != nil {
		return s.serveFault(w, r, rec, req, f, gone)
	}
	turn, idx, msg := s.take(rec.Conversation, req.ToolNames())
	rec.Turn, rec.ToolSearch = idx, idx == selectIdx
	if rec.ToolSearch {
		rec.Turn = -1
	}
	if msg != "" {
		s.problem("%s", msg)
		writeError(w, http.StatusBadRequest, "", msg, rec.RequestID)
		return http.StatusBadRequest
	}
	if turn.Status != 0 {
		writeError(w, turn.Status, turn.ErrorType, turn.Message, rec.RequestID)
		return turn.Status
	}
	rep := newReply(turn, req.Model, tokens(size), s.newID)
	s.mu.Lock()
	j := 0
	for _, b := range rep.blocks {
		if b.Type == "tool_use" {
			s.calls[b.ID] = turn.Tools[j]
			j++
		}
	}
	s.mu.Unlock()
	rec.Status = http.StatusOK
	s.commit(*rec)
	if !req.Stream {
		if turn.Stall {
			s.stall(r)
			return http.StatusOK
		}
		rep.writeJSON(w)
		return http.StatusOK
	}
	out := startSSE(w)
	if err := rep.writeStart(out); err != nil {
		return http.StatusOK
	}
	if turn.Stall {
		s.stall(r)
		return http.StatusOK
	}
	rep.writeStream(out) // a write error means the client left
	return http.StatusOK
}

// stall holds the reply open until the client leaves or Close.
func (s *Server) stall(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.done:
	}
}

// selectIdx is take's turn index for a ToolSearch call of the fake's own.
const selectIdx = -2

// toolSearch is the CLI's tool that loads deferred tool schemas (MCP tools
// by default): a model must call it before calling such a tool.
const toolSearch = "ToolSearch"

// take returns the next turn of a conversation and its index, or why there
// is none. When the turn calls tools the request does not offer but
// ToolSearch is offered, it returns (once per tool and conversation) a
// ToolSearch call that selects them instead, with index selectIdx, and keeps the
// turn for the next request: scripts name MCP tools directly whether or not
// the CLI defers them.
func (s *Server) take(conv string, offered []string) (Turn, int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, ok := s.scripts[conv]
	if !ok && s.idle != nil {
		return *s.idle, 0, ""
	}
	if !ok {
		sc = s.def
	}
	if sc == nil {
		return Turn{}, -1, fmt.Sprintf("fakemodel: no script for conversation %q (put fakemodel.Marker(name) in the system prompt, or script the prompt text)", conv)
	}
	i := s.next[conv]
	if i >= len(sc) {
		return Turn{}, i, fmt.Sprintf("fakemodel: the script of conversation %q has %d turns; this is request %d", conv, len(sc), i+1)
	}
	if sel := s.toSelect(conv, sc[i], offered); len(sel) > 0 {
		return Call(toolSearch, map[string]string{"query": "select:" + strings.Join(sel, ",")}), selectIdx, ""
	}
	s.next[conv] = i + 1
	return sc[i], i, ""
}

// toSelect lists the tools of t that the request does not offer and that
// have not been searched for yet, when ToolSearch is offered; it marks them
// searched.
func (s *Server) toSelect(conv string, t Turn, offered []string) []string {
	if len(t.Tools) == 0 || !slices.Contains(offered, toolSearch) {
		return nil
	}
	var sel []string
	for _, c := range t.Tools {
		key := conv + "\x00" + c.Name
		if slices.Contains(offered, c.Name) || s.searched[key] || slices.Contains(sel, c.Name) {
			continue
		}
		s.searched[key] = true
		sel = append(sel, c.Name)
	}
	return sel
}

func (s *Server) problem(format string, args ...any) {
	s.mu.Lock()
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

// Problems lists what went wrong on the fake's side: requests without a
// script, past the end of one, or not parseable. A test that expects none
// asserts it is empty.
func (s *Server) Problems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.problems...)
}
