// Package events sums up an agent CLI's output stream, one line at a time,
// into what the runner records of an iteration: for Claude Code the
// stream-json lines (init: the session id; result: turns, cost, tokens,
// is_error, api_error_status), for codex its exec --json events, for
// opencode its run --format json lines, for a plain command its output
// lines. shared/agentstream decodes the lines; this package decides what
// they mean for the iteration. Only runner imports it.
package events

import (
	"strings"

	"github.com/clemhq/clem/runner/internal/config"
	"github.com/clemhq/clem/shared/agentstream"
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
	e, err := agentstream.ParseClaude(line)
	if err != nil {
		return
	}
	switch e.Type {
	case "system":
		if e.Subtype == "init" && e.SessionID != "" {
			p.s.SessionID = e.SessionID
		}
	case "assistant":
		// The CLI reports API errors as assistant messages of its own:
		// those are not the model's answer.
		if e.ModelAnswered() {
			p.s.Answered = true
		}
	case "result":
		r := e.Result
		p.s.Final = true
		if e.SessionID != "" {
			p.s.SessionID = e.SessionID
		}
		p.s.Turns = r.NumTurns
		p.s.CostUSD = r.TotalCostUSD
		p.s.InputTokens = r.Usage.AllInputTokens()
		p.s.OutputTokens = r.Usage.OutputTokens
		p.s.APIErrorStatus = r.APIErrorStatus
		p.s.Result = r.Result
		// Failures can say subtype success: is_error and the API status decide.
		p.s.IsError = r.Failed()
		if p.s.IsError {
			p.s.Error = firstLine(r.Result)
			if p.s.Error == "" {
				p.s.Error = r.Subtype
			}
		}
	}
}

// codex reads `codex exec --json`.
type codex struct{ s Summary }

func (p *codex) Summary() Summary { return p.s }

func (p *codex) Line(line []byte) {
	e, err := agentstream.ParseCodex(line)
	if err != nil {
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
	e, err := agentstream.ParseOpenCode(line)
	if err != nil {
		return
	}
	if e.SessionID != "" {
		p.s.SessionID = e.SessionID
	}
	if e.Failed() {
		p.s.IsError = true
		p.s.Error = firstLine(e.ErrorText())
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
