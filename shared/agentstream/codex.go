package agentstream

import (
	"encoding/json"
	"fmt"
)

// CodexFlags are the flags of `codex exec` that make it print the events
// ParseCodex reads.
func CodexFlags() []string { return []string{"--json"} }

// CodexEvent is one line of `codex exec --json`: thread.started,
// turn.started, item.started, item.completed, turn.completed, turn.failed,
// error.
type CodexEvent struct {
	Type     string      `json:"type"`
	ThreadID string      `json:"thread_id"` // thread.started: the session
	Usage    CodexUsage  `json:"usage"`     // turn.completed
	Error    *CodexError `json:"error"`     // turn.failed
	Message  string      `json:"message"`   // error
	Item     *CodexItem  `json:"item"`      // item.*
}

// CodexUsage is the token count of one turn.
type CodexUsage struct {
	InputTokens       int64 `json:"input_tokens"`
	CachedInputTokens int64 `json:"cached_input_tokens"`
	OutputTokens      int64 `json:"output_tokens"`
}

// CodexError is why a turn failed.
type CodexError struct {
	Message string `json:"message"`
}

// CodexItem is an item of a turn; type agent_message carries the model's
// text.
type CodexItem struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// ParseCodex decodes one line. A line that is not JSON, or whose JSON does
// not fit (an array, a known field of the wrong type), is an error; one
// without a type is an event of type "".
func ParseCodex(line []byte) (CodexEvent, error) {
	var e CodexEvent
	if err := json.Unmarshal(line, &e); err != nil {
		return CodexEvent{}, fmt.Errorf("codex --json line: %w", err)
	}
	return e, nil
}
