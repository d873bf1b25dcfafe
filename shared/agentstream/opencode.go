package agentstream

import (
	"encoding/json"
	"fmt"
)

// OpenCodeFlags are the flags of `opencode run` that make it print the
// events ParseOpenCode reads.
func OpenCodeFlags() []string { return []string{"--format", "json"} }

// OpenCodeEvent is one line of `opencode run --format json`: step_start,
// text, tool_use, step_finish, error, ... Its fields mean the same on
// every type of line, so none depends on Type.
type OpenCodeEvent struct {
	Type      string `json:"type"`
	SessionID string `json:"sessionID"`
	// Error is the error as sent: any JSON value (opencode sends objects
	// of varying shape), nil when absent or null.
	Error any           `json:"error"`
	Part  *OpenCodePart `json:"part"`
}

// OpenCodePart is the part of the answer a line carries; type text is the
// model's text.
type OpenCodePart struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// Failed reports whether the line reports an error.
func (e OpenCodeEvent) Failed() bool { return e.Type == "error" || e.Error != nil }

// ErrorText is Error as compact JSON ("null" when absent).
func (e OpenCodeEvent) ErrorText() string {
	// A value decoded from JSON always encodes again.
	b, _ := json.Marshal(e.Error)
	return string(b)
}

// ParseOpenCode decodes one line. A line that is not JSON, or whose JSON
// does not fit (an array, a known field of the wrong type), is an error.
func ParseOpenCode(line []byte) (OpenCodeEvent, error) {
	var e OpenCodeEvent
	if err := json.Unmarshal(line, &e); err != nil {
		return OpenCodeEvent{}, fmt.Errorf("opencode json line: %w", err)
	}
	return e, nil
}
