package fakemodel

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"
)

// Request is one request the fake received, as received: the headers keep
// the credential so tests can check which key arrived. Do not log Header;
// LogValue leaves it out.
type Request struct {
	Seq        int // order of arrival, from 0
	Time       time.Time
	Method     string
	Path       string
	Query      string // raw query, "beta=true" from the CLI
	Header     http.Header
	Body       []byte
	RemoteAddr string
	RequestID  string // the request-id the fake answered with
	Status     int    // the status the fake answered

	// For POST /v1/messages: the parsed body, its conversation and the
	// index of the turn served (-1: none or a ToolSearch, see below).
	Messages     *MessagesRequest
	Conversation string
	Turn         int
	// ToolSearch: the fake answered with a ToolSearch call of its own to
	// load a deferred tool the turn calls (Turn is then -1).
	ToolSearch bool
	// Fault: the request got the fault set with SetFault, not a turn.
	Fault bool
}

// Credential is the key the request carried, from X-Api-Key or
// Authorization: Bearer, and which of the two ("x-api-key", "bearer").
func (r Request) Credential() (key, how string) {
	return credential(r.Header)
}

// LogValue describes the request without headers or body.
func (r Request) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("seq", r.Seq), slog.String("method", r.Method), slog.String("path", r.Path),
		slog.String("conversation", r.Conversation), slog.Int("turn", r.Turn), slog.Int("status", r.Status))
}

// Requests returns every request so far, in order of arrival.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// MessageRequests returns the /v1/messages requests of one conversation.
func (s *Server) MessageRequests(conversation string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Messages != nil && r.Conversation == conversation {
			out = append(out, r)
		}
	}
	return out
}

// ToolResult is a tool_result block the client sent back for a tool_use
// the fake had sent.
type ToolResult struct {
	ToolUseID string
	Name      string          // the tool the fake called ("" if the id is not one of the fake's)
	Input     json.RawMessage // the input the fake sent with the call
	Content   string          // the text of the result
	IsError   bool
}

// ToolResults returns the tool results of one conversation, each once, in
// the order they first arrived (every request repeats the history).
func (s *Server) ToolResults(conversation string) []ToolResult {
	reqs := s.MessageRequests(conversation)
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	var out []ToolResult
	for _, r := range reqs {
		for _, m := range r.Messages.Messages {
			if m.Role != "user" {
				continue
			}
			bs, _ := m.Blocks()
			for _, b := range bs {
				if b.Type != "tool_result" || seen[b.ToolUseID] {
					continue
				}
				seen[b.ToolUseID] = true
				tr := ToolResult{ToolUseID: b.ToolUseID, Content: toolResultText(b), IsError: b.IsError}
				if c, ok := s.calls[b.ToolUseID]; ok {
					tr.Name = c.Name
					tr.Input, _ = json.Marshal(c.Input)
				}
				out = append(out, tr)
			}
		}
	}
	return out
}
