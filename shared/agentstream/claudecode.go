package agentstream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// ClaudeFlags are the flags of `claude -p` that make it print the stream
// ParseClaude reads; with -p, stream-json requires --verbose.
func ClaudeFlags() []string { return []string{"--output-format", "stream-json", "--verbose"} }

// SyntheticModel is the model name on assistant lines the CLI writes
// itself, to report an API error as if the model had said it.
const SyntheticModel = "<synthetic>"

// ClaudeEvent is one line of Claude Code's stream-json.
type ClaudeEvent struct {
	Type      string // system, assistant, user, result, ...
	Subtype   string // init on the first system line; success, error_max_turns, ... on result
	SessionID string
	// Init is set on system lines of subtype init.
	Init *ClaudeInit
	// Message is set on lines that carry one: assistant and user lines.
	Message *ClaudeMessage
	// IsAPIErrorMessage marks an assistant line the CLI made up to report
	// an API error (isApiErrorMessage), whatever its model name.
	IsAPIErrorMessage bool
	// Result is set on the closing result line.
	Result *ClaudeResult
	// Raw is the line, surrounding space trimmed.
	Raw json.RawMessage
}

// ClaudeInit is the system/init line.
type ClaudeInit struct {
	SessionID      string            `json:"session_id"`
	Model          string            `json:"model"`
	PermissionMode string            `json:"permissionMode"`
	CWD            string            `json:"cwd"`
	Tools          []string          `json:"tools"`
	MCPServers     []ClaudeMCPServer `json:"mcp_servers"`
	Version        string            `json:"claude_code_version"`
}

// ClaudeMCPServer is an MCP server as the init line reports it.
type ClaudeMCPServer struct {
	Name   string `json:"name"`
	Status string `json:"status"` // connected, failed, ...
}

// ClaudeMessage is the API message an assistant or user line carries.
type ClaudeMessage struct {
	Model   string        `json:"model,omitempty"` // assistant lines; SyntheticModel on the CLI's own
	Role    string        `json:"role"`
	Content ClaudeContent `json:"content"`
	// Plain is true when the content came as one string (or null), now
	// Content's single text block, rather than as a list of blocks.
	Plain bool `json:"-"`
}

// ClaudeContent is a message's content blocks.
type ClaudeContent []ClaudeBlock

// ClaudeBlock is a content block: text, tool_use, tool_result, thinking, ...
type ClaudeBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`  // tool_use
	Input     json.RawMessage `json:"input,omitempty"` // tool_use
	ToolUseID string          `json:"tool_use_id,omitempty"`
	Content   json.RawMessage `json:"content,omitempty"` // tool_result: a string or blocks
	IsError   bool            `json:"is_error,omitempty"`
}

// ClaudeResult is the closing result line. Judge it with Failed: the
// subtype can say success on failure.
type ClaudeResult struct {
	Subtype           string            `json:"subtype"`
	IsError           bool              `json:"is_error"`
	Result            string            `json:"result"`
	NumTurns          int               `json:"num_turns"`
	TotalCostUSD      float64           `json:"total_cost_usd"`
	DurationMS        int64             `json:"duration_ms"`
	DurationAPIMS     int64             `json:"duration_api_ms"`
	SessionID         string            `json:"session_id"`
	APIErrorStatus    *int              `json:"api_error_status"`
	PermissionDenials []json.RawMessage `json:"permission_denials"`
	Usage             ClaudeUsage       `json:"usage"`
}

// ClaudeUsage is the token count of a whole run.
type ClaudeUsage struct {
	InputTokens              int64 `json:"input_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
}

// AllInputTokens counts input read from the cache and written to it too:
// all of it is input the run sent.
func (u ClaudeUsage) AllInputTokens() int64 {
	return u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens
}

// Failed reports whether the run failed: is_error, a subtype starting with
// error, or an API status of 400 or more. The CLI says subtype success on
// a 401, so the subtype alone never clears a run.
func (r ClaudeResult) Failed() bool {
	return r.IsError || strings.HasPrefix(r.Subtype, "error") || (r.APIErrorStatus != nil && *r.APIErrorStatus >= 400)
}

// ModelAnswered reports whether e is the model's own answer: an assistant
// line that the CLI did not make up to report an API error (flagged
// isApiErrorMessage, or model SyntheticModel). A line without a message or
// model name counts as the model's.
func (e ClaudeEvent) ModelAnswered() bool {
	return e.Type == "assistant" && !e.IsAPIErrorMessage && (e.Message == nil || e.Message.Model != SyntheticModel)
}

// claudeLine holds the fields the runner and the view read on every line;
// named so that encoding/json's errors name it briefly.
type claudeLine struct {
	Type              string         `json:"type"`
	Subtype           string         `json:"subtype"`
	SessionID         string         `json:"session_id"`
	Model             string         `json:"model"`
	Message           *ClaudeMessage `json:"message"`
	IsAPIErrorMessage bool           `json:"isApiErrorMessage"`
	IsError           bool           `json:"is_error"`
	APIErrorStatus    *int           `json:"api_error_status"`
	NumTurns          int            `json:"num_turns"`
	TotalCostUSD      float64        `json:"total_cost_usd"`
	Result            string         `json:"result"`
	Usage             ClaudeUsage    `json:"usage"`
}

// ParseClaude decodes one stream-json line. It is an error when the line
// is not a JSON object with a type, or when a field the runner or the view
// reads (type, subtype, session_id, model, message, isApiErrorMessage,
// is_error, api_error_status, num_turns, total_cost_usd, result, usage)
// has the wrong JSON type, on any line, as they always read them. The
// rest of ClaudeInit and ClaudeResult (cwd, tools, mcp_servers, durations,
// permission_denials, ...) is best effort: a field of another shape is
// left zero, so a change the runner does not read cannot cost it a result
// line.
func ParseClaude(line []byte) (ClaudeEvent, error) {
	var w claudeLine
	if err := json.Unmarshal(line, &w); err != nil {
		return ClaudeEvent{}, fmt.Errorf("stream-json line: %w", err)
	}
	if w.Type == "" {
		return ClaudeEvent{}, fmt.Errorf("stream-json line without a type: %.200s", line)
	}
	e := ClaudeEvent{Type: w.Type, Subtype: w.Subtype, SessionID: w.SessionID,
		Message: w.Message, IsAPIErrorMessage: w.IsAPIErrorMessage}
	// The line is valid JSON by now, so the best-effort passes below can
	// only meet fields of another type, which encoding/json leaves zero
	// while it fills in the rest.
	switch {
	case e.Type == "system" && e.Subtype == "init":
		var in ClaudeInit
		_ = json.Unmarshal(line, &in)
		in.SessionID, in.Model = w.SessionID, w.Model
		e.Init = &in
	case e.Type == "result":
		var r ClaudeResult
		_ = json.Unmarshal(line, &r)
		r.Subtype, r.SessionID, r.IsError, r.APIErrorStatus = w.Subtype, w.SessionID, w.IsError, w.APIErrorStatus
		r.NumTurns, r.TotalCostUSD, r.Result, r.Usage = w.NumTurns, w.TotalCostUSD, w.Result, w.Usage
		e.Result = &r
	}
	e.Raw = append(json.RawMessage(nil), bytes.TrimSpace(line)...)
	return e, nil
}

// UnmarshalJSON takes content as a list of blocks or as one string (null
// counts as the empty string), which becomes one text block.
func (m *ClaudeMessage) UnmarshalJSON(b []byte) error {
	var raw struct {
		Model   string          `json:"model"`
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*m = ClaudeMessage{Model: raw.Model, Role: raw.Role}
	if len(raw.Content) == 0 {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw.Content, &s); err == nil {
		m.Content, m.Plain = ClaudeContent{{Type: "text", Text: s}}, true
		return nil
	}
	if err := json.Unmarshal(raw.Content, &m.Content); err != nil {
		return fmt.Errorf("message content: %w", err)
	}
	return nil
}
