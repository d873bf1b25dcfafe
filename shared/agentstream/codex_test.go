package agentstream

import (
	"strings"
	"testing"
)

func TestParseCodex(t *testing.T) {
	for _, tt := range []struct {
		line, wantErr string
		want          CodexEvent
	}{
		{line: `{"type":"thread.started","thread_id":"th_1"}`, want: CodexEvent{Type: "thread.started", ThreadID: "th_1"}},
		{line: `{"type":"turn.completed","usage":{"input_tokens":100,"cached_input_tokens":40,"output_tokens":7}}`,
			want: CodexEvent{Type: "turn.completed", Usage: CodexUsage{100, 40, 7}}},
		{line: `{"type":"error","message":"stream error"}`, want: CodexEvent{Type: "error", Message: "stream error"}},
		{line: `{}`, want: CodexEvent{}},
		{line: `not json`, wantErr: "codex --json line: invalid character"},
		{line: `{"type":"turn.completed","usage":{"input_tokens":"x"}}`, wantErr: "codex --json line"},
	} {
		e, err := ParseCodex([]byte(tt.line))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseCodex(%q) error = %v, want %q", tt.line, err, tt.wantErr)
			}
			continue
		}
		if err != nil || e.Type != tt.want.Type || e.ThreadID != tt.want.ThreadID || e.Usage != tt.want.Usage || e.Message != tt.want.Message {
			t.Errorf("ParseCodex(%q) = %+v, %v; want %+v", tt.line, e, err, tt.want)
		}
	}
	e, err := ParseCodex([]byte(`{"type":"turn.failed","error":{"message":"401 Unauthorized"}}`))
	if err != nil || e.Error == nil || e.Error.Message != "401 Unauthorized" {
		t.Errorf("turn.failed = %+v, %v", e, err)
	}
	e, err = ParseCodex([]byte(`{"type":"item.completed","item":{"id":"i1","type":"agent_message","text":"done"}}`))
	if err != nil || e.Item == nil || *e.Item != (CodexItem{"agent_message", "done"}) {
		t.Errorf("item.completed = %+v, %v", e, err)
	}
	if f := strings.Join(CodexFlags(), " "); f != "--json" {
		t.Errorf("CodexFlags() = %q", f)
	}
}
