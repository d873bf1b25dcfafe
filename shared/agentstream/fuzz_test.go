package agentstream

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzParseClaude: any line (the agent's CLI, so the agent, writes it)
// parses without a panic, and an event it returns is consistent: it has a
// type, Raw is the trimmed line and parses to the same event again, Init
// and Result are set only on their types, and plain content is one text
// block.
func FuzzParseClaude(f *testing.F) {
	for _, s := range []string{ccInit, ccText, ccTool, ccToolRes, ccSynthetic, ccFlagged, ccResOK, ccRes401, ccRes529, ccMaxTurns,
		`{"type":"user","message":{"content":"x"}}`, `{"type":"assistant","message":{"content":null}}`, "not json", `{"type":"assis`, "null", "[]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := ParseClaude(line)
		if err != nil {
			if !reflect.DeepEqual(e, ClaudeEvent{}) {
				t.Fatalf("ParseClaude(%q) failed (%v) but returned %+v", line, err, e)
			}
			return
		}
		if e.Type == "" || !bytes.Equal(e.Raw, bytes.TrimSpace(line)) {
			t.Fatalf("ParseClaude(%q) = type %q, raw %q", line, e.Type, e.Raw)
		}
		if (e.Init != nil) != (e.Type == "system" && e.Subtype == "init") || (e.Result != nil) != (e.Type == "result") ||
			e.ModelAnswered() && e.Type != "assistant" {
			t.Fatalf("ParseClaude(%q) set parts of another type of line: %+v", line, e)
		}
		if e.Message != nil && e.Message.Plain && (len(e.Message.Content) != 1 || e.Message.Content[0].Type != "text") {
			t.Fatalf("ParseClaude(%q): plain content %+v", line, e.Message.Content)
		}
		again, err := ParseClaude(e.Raw)
		if err != nil || !reflect.DeepEqual(again, e) {
			t.Fatalf("ParseClaude(Raw of %q) = %+v, %v; want %+v", line, again, err, e)
		}
	})
}

// FuzzParseCodexOpenCode: codex and opencode lines parse without a panic,
// and opencode's error always comes back as valid JSON.
func FuzzParseCodexOpenCode(f *testing.F) {
	for _, s := range []string{`{"type":"thread.started","thread_id":"th_1"}`, `{"type":"turn.failed","error":{"message":"x"}}`,
		`{"type":"item.completed","item":{"type":"agent_message","text":"t"}}`, `{"type":"error","error":{"name":"E","data":{"n":1e21}}}`,
		`{"sessionID":"s","part":{"type":"text","text":"t"}}`, "not json"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		ParseCodex(line)
		e, err := ParseOpenCode(line)
		if err == nil && !json.Valid([]byte(e.ErrorText())) {
			t.Fatalf("ParseOpenCode(%q).ErrorText() = %q, not JSON", line, e.ErrorText())
		}
	})
}
