// Package events reads an agent CLI's output stream, one line at a time:
// for Claude Code the stream-json lines (init: the session id; result: turns,
// cost, tokens, is_error, api_error_status), for codex its exec --json
// events, for opencode its run --format json lines, for a plain command its
// output lines. It also renders lines readably for the tmux pane. Only
// runner imports it.
package events

import (
	"encoding/json"
	"strings"

	"github.com/clemhq/clem/runner/internal/config"
)

// Summary is what a stream said about its iteration.
type Summary struct {
	SessionID      string
	Turns          int
	CostUSD        float64
	InputTokens    int64
	OutputTokens   int64
	IsError        bool
	APIErrorStatus *int
	Result         string
	Error          string
	// Final is true once the stream's closing event (claude's result
	// line, codex's turn.completed/turn.failed) arrived.
	Final bool
	// Answered is true once the model itself answered the prompt (not an
	// error the CLI made up): the prompt, and the inbox items it carries,
	// reached the model. Until then a failed run loses nothing.
	Answered bool
}

// Parser takes a stream's lines in order.
type Parser interface {
	Line(line []byte)
	Summary() Summary
}

// New returns the parser for a runtime.
func New(runtime string) Parser {
	switch runtime {
	case config.ClaudeCode:
		return &claude{}
	case config.Codex:
		return &codex{}
	case config.OpenCode:
		return &opencode{}
	}
	return &plain{}
}

// claude reads --output-format stream-json.
type claude struct{ s Summary }

func (p *claude) Summary() Summary { return p.s }

func (p *claude) Line(line []byte) {
	var e struct {
		Type           string  `json:"type"`
		Subtype        string  `json:"subtype"`
		SessionID      string  `json:"session_id"`
		IsError        bool    `json:"is_error"`
		APIErrorStatus *int    `json:"api_error_status"`
		NumTurns       int     `json:"num_turns"`
		TotalCostUSD   float64 `json:"total_cost_usd"`
		Result         string  `json:"result"`
		IsAPIError     bool    `json:"isApiErrorMessage"`
		Message        *struct {
			Model string `json:"model"`
		} `json:"message"`
		Usage struct {
			InputTokens   int64 `json:"input_tokens"`
			CacheCreation int64 `json:"cache_creation_input_tokens"`
			CacheRead     int64 `json:"cache_read_input_tokens"`
			OutputTokens  int64 `json:"output_tokens"`
		} `json:"usage"`
	}
	if json.Unmarshal(line, &e) != nil {
		return
	}
	switch e.Type {
	case "system":
		if e.Subtype == "init" && e.SessionID != "" {
			p.s.SessionID = e.SessionID
		}
	case "assistant":
		// The CLI reports API errors as assistant messages of its own,
		// model "<synthetic>": those are not the model's answer.
		if !e.IsAPIError && (e.Message == nil || e.Message.Model != "<synthetic>") {
			p.s.Answered = true
		}
	case "result":
		p.s.Final = true
		if e.SessionID != "" {
			p.s.SessionID = e.SessionID
		}
		p.s.Turns = e.NumTurns
		p.s.CostUSD = e.TotalCostUSD
		p.s.InputTokens = e.Usage.InputTokens + e.Usage.CacheCreation + e.Usage.CacheRead
		p.s.OutputTokens = e.Usage.OutputTokens
		p.s.APIErrorStatus = e.APIErrorStatus
		p.s.Result = e.Result
		// Failures can say subtype success: is_error and the API status decide.
		p.s.IsError = e.IsError || strings.HasPrefix(e.Subtype, "error") || (e.APIErrorStatus != nil && *e.APIErrorStatus >= 400)
		if p.s.IsError {
			p.s.Error = firstLine(e.Result)
			if p.s.Error == "" {
				p.s.Error = e.Subtype
			}
		}
	}
}

// codex reads `codex exec --json`.
type codex struct{ s Summary }

func (p *codex) Summary() Summary { return p.s }

func (p *codex) Line(line []byte) {
	var e struct {
		Type     string `json:"type"`
		ThreadID string `json:"thread_id"`
		Usage    struct {
			InputTokens  int64 `json:"input_tokens"`
			CachedInput  int64 `json:"cached_input_tokens"`
			OutputTokens int64 `json:"output_tokens"`
		} `json:"usage"`
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
		Message string `json:"message"`
		Item    *struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"item"`
	}
	if json.Unmarshal(line, &e) != nil {
		return
	}
	switch e.Type {
	case "thread.started":
		p.s.SessionID = e.ThreadID
	case "turn.completed":
		p.s.Final = true
		p.s.Turns++
		p.s.InputTokens += e.Usage.InputTokens
		p.s.OutputTokens += e.Usage.OutputTokens
	case "turn.failed":
		p.s.Final, p.s.IsError = true, true
		if e.Error != nil {
			p.s.Error = firstLine(e.Error.Message)
		}
	case "error":
		p.s.IsError = true
		p.s.Error = firstLine(e.Message)
	case "item.completed":
		p.s.Answered = true
		if e.Item != nil && e.Item.Type == "agent_message" {
			p.s.Result = e.Item.Text
		}
	}
}

// opencode reads `opencode run --format json`: the session id, errors, and
// text parts as the result.
type opencode struct{ s Summary }

func (p *opencode) Summary() Summary { return p.s }

func (p *opencode) Line(line []byte) {
	var e struct {
		Type      string `json:"type"`
		SessionID string `json:"sessionID"`
		Error     any    `json:"error"`
		Part      *struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"part"`
	}
	if json.Unmarshal(line, &e) != nil {
		return
	}
	if e.SessionID != "" {
		p.s.SessionID = e.SessionID
	}
	if e.Type == "error" || e.Error != nil {
		p.s.IsError = true
		b, _ := json.Marshal(e.Error)
		p.s.Error = firstLine(string(b))
	}
	if e.Part != nil {
		p.s.Answered = true
		if e.Part.Type == "text" && e.Part.Text != "" {
			p.s.Result = e.Part.Text
		}
	}
}

// plain reads a command's output: the last non-empty line is its result.
type plain struct{ s Summary }

func (p *plain) Summary() Summary { return p.s }

func (p *plain) Line(line []byte) {
	if l := strings.TrimSpace(string(line)); l != "" {
		p.s.Result, p.s.Answered = l, true
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
