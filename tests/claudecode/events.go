package claudecode

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Event is one line of --output-format stream-json.
type Event struct {
	Type      string          `json:"type"`    // system, assistant, user, result, ...
	Subtype   string          `json:"subtype"` // init for the first system line
	SessionID string          `json:"session_id"`
	Message   *Message        `json:"message,omitempty"` // assistant and user lines
	Raw       json.RawMessage `json:"-"`
}

// Message is the API message an assistant or user line carries.
type Message struct {
	Role    string  `json:"role"`
	Content Content `json:"content"`
}

// Content is a message's content; a plain string becomes one text block.
type Content []Block

// UnmarshalJSON takes a string or a list of blocks.
func (c *Content) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*c = Content{{Type: "text", Text: s}}
		return nil
	}
	var bs []Block
	if err := json.Unmarshal(b, &bs); err != nil {
		return fmt.Errorf("message content: %w", err)
	}
	*c = bs
	return nil
}

// Block is a content block in an assistant or user line.
type Block struct {
	Type      string          `json:"type"` // text, tool_use, tool_result, thinking
	Text      string          `json:"text,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	ToolUseID string          `json:"tool_use_id,omitempty"`
	Content   json.RawMessage `json:"content,omitempty"`
	IsError   bool            `json:"is_error,omitempty"`
}

// Init is the first system line (subtype init).
type Init struct {
	SessionID      string      `json:"session_id"`
	Model          string      `json:"model"`
	PermissionMode string      `json:"permissionMode"`
	CWD            string      `json:"cwd"`
	Tools          []string    `json:"tools"`
	MCPServers     []MCPServer `json:"mcp_servers"`
	Version        string      `json:"claude_code_version"`
}

// MCPServer is an MCP server as init reports it.
type MCPServer struct {
	Name   string `json:"name"`
	Status string `json:"status"` // connected, failed, ...
}

// Final is the last line, type result. Judge success by IsError,
// APIErrorStatus and the exit code: Subtype can say success on failure.
type Final struct {
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
	Usage             json.RawMessage   `json:"usage"`
}

// ParseLine decodes one stream-json line.
func ParseLine(line []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(line, &e); err != nil {
		return Event{}, fmt.Errorf("stream-json line: %w", err)
	}
	if e.Type == "" {
		return Event{}, fmt.Errorf("stream-json line without a type: %.200s", line)
	}
	e.Raw = append(json.RawMessage(nil), bytes.TrimSpace(line)...)
	return e, nil
}

// ParseStream decodes stdout line by line into events, the init line and
// the result line; non-JSON lines are returned as bad.
func ParseStream(out []byte) (events []Event, init *Init, final *Final, bad []string) {
	for _, line := range bytes.Split(out, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		e, err := ParseLine(line)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		events = append(events, e)
		switch {
		case e.Type == "system" && e.Subtype == "init" && init == nil:
			var in Init
			if err := json.Unmarshal(line, &in); err != nil {
				bad = append(bad, "init line: "+err.Error())
			} else {
				init = &in
			}
		case e.Type == "result":
			var f Final
			if err := json.Unmarshal(line, &f); err != nil {
				bad = append(bad, "result line: "+err.Error())
			} else {
				final = &f
			}
		}
	}
	return events, init, final, bad
}
