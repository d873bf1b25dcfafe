package fakemodel

import (
	"encoding/json"
	"fmt"
	"net/http"
	"unicode/utf8"
)

// replyBlock is a content block of the reply, as the API returns it.
type replyBlock struct {
	Type  string          `json:"type"`
	Text  *string         `json:"text,omitempty"`
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
}

// usage is the API's token usage object.
type usage struct {
	InputTokens              int `json:"input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	OutputTokens             int `json:"output_tokens"`
}

// message is the API's message object (the whole stream:false answer, and
// the start of a stream with empty content).
type message struct {
	ID           string       `json:"id"`
	Type         string       `json:"type"`
	Role         string       `json:"role"`
	Model        string       `json:"model"`
	Content      []replyBlock `json:"content"`
	StopReason   *string      `json:"stop_reason"`
	StopSequence *string      `json:"stop_sequence"`
	Usage        usage        `json:"usage"`
}

// reply is a turn made concrete for one request: ids assigned, inputs
// marshalled, tokens counted.
type reply struct {
	id         string
	model      string
	blocks     []replyBlock
	stopReason string
	usage      usage
}

func newReply(t Turn, model string, inputTokens int, newID func(prefix string) string) reply {
	r := reply{id: newID("msg_"), model: model, stopReason: "end_turn"}
	out := 0
	if t.Text != "" {
		text := t.Text
		r.blocks = append(r.blocks, replyBlock{Type: "text", Text: &text})
		out += tokens(len(text))
	}
	for _, c := range t.Tools {
		in, _ := json.Marshal(c.Input) // validated when the script was set
		r.blocks = append(r.blocks, replyBlock{Type: "tool_use", ID: newID("toolu_"), Name: c.Name, Input: in})
		r.stopReason = "tool_use"
		out += tokens(len(in))
	}
	r.usage = usage{InputTokens: inputTokens, OutputTokens: max(out, 1)}
	return r
}

// tokens is a rough count for n bytes, as the usage numbers need one.
func tokens(n int) int { return (n + 3) / 4 }

func (r reply) message(content []replyBlock, stop *string, u usage) message {
	if content == nil {
		content = []replyBlock{}
	}
	return message{ID: r.id, Type: "message", Role: "assistant", Model: r.model,
		Content: content, StopReason: stop, Usage: u}
}

// writeJSON answers stream:false.
func (r reply) writeJSON(w http.ResponseWriter) {
	stop := r.stopReason
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(r.message(r.blocks, &stop, r.usage))
}

// sse writes server-sent events and flushes after each.
type sse struct {
	w http.ResponseWriter
	f http.Flusher
}

func startSSE(w http.ResponseWriter) sse {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	return sse{w: w, f: f}
}

func (s sse) event(name string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", name, err)
	}
	if _, err := fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", name, b); err != nil {
		return fmt.Errorf("write %s event: %w", name, err)
	}
	if s.f != nil {
		s.f.Flush()
	}
	return nil
}

// writeStart sends message_start, the first event of every stream.
func (r reply) writeStart(s sse) error {
	start := r.usage
	start.OutputTokens = 1
	return s.event("message_start", map[string]any{"type": "message_start", "message": r.message(nil, nil, start)})
}

// writeStream sends the whole stream after message_start: each block as
// start, deltas in small pieces (clients must accumulate), stop; then
// message_delta with the stop reason and message_stop.
func (r reply) writeStream(s sse) error {
	if err := s.event("ping", map[string]string{"type": "ping"}); err != nil {
		return err
	}
	for i, b := range r.blocks {
		var first replyBlock
		var deltaType, field, payload string
		switch b.Type {
		case "text":
			empty := ""
			first = replyBlock{Type: "text", Text: &empty}
			deltaType, field, payload = "text_delta", "text", *b.Text
		case "tool_use":
			first = replyBlock{Type: "tool_use", ID: b.ID, Name: b.Name, Input: json.RawMessage("{}")}
			deltaType, field, payload = "input_json_delta", "partial_json", string(b.Input)
		}
		if err := s.event("content_block_start", map[string]any{"type": "content_block_start", "index": i, "content_block": first}); err != nil {
			return err
		}
		for _, piece := range pieces(payload, 24) {
			delta := map[string]any{"type": "content_block_delta", "index": i, "delta": map[string]string{"type": deltaType, field: piece}}
			if err := s.event("content_block_delta", delta); err != nil {
				return err
			}
		}
		if err := s.event("content_block_stop", map[string]any{"type": "content_block_stop", "index": i}); err != nil {
			return err
		}
	}
	md := map[string]any{
		"type":  "message_delta",
		"delta": map[string]any{"stop_reason": r.stopReason, "stop_sequence": nil},
		"usage": map[string]int{"output_tokens": r.usage.OutputTokens},
	}
	if err := s.event("message_delta", md); err != nil {
		return err
	}
	return s.event("message_stop", map[string]string{"type": "message_stop"})
}

// pieces cuts s into chunks of about n bytes on rune boundaries.
func pieces(s string, n int) []string {
	var out []string
	for len(s) > n {
		cut := n
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		if cut == 0 {
			cut = n
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}

// apiError is the real API's error body.
type apiError struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
	RequestID string `json:"request_id,omitempty"`
}

func writeError(w http.ResponseWriter, status int, typ, msg, requestID string) {
	if typ == "" {
		typ = errorType(status)
	}
	if msg == "" {
		msg = http.StatusText(status)
		if status == 529 {
			msg = "Overloaded"
		}
	}
	var e apiError
	e.Type = "error"
	e.Error.Type, e.Error.Message = typ, msg
	e.RequestID = requestID
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(e)
}
