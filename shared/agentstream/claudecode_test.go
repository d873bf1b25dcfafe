package agentstream

import (
	"reflect"
	"strings"
	"testing"
)

// Lines as Claude Code 2.1.328 prints them, shortened.
const (
	ccInit      = `{"type":"system","subtype":"init","cwd":"/h","session_id":"s-1","tools":["Bash"],"mcp_servers":[{"name":"coord","status":"connected"}],"model":"claude-sonnet-4-5","permissionMode":"bypassPermissions","claude_code_version":"2.1.328"}`
	ccText      = `{"type":"assistant","message":{"model":"claude-sonnet-4-5","role":"assistant","content":[{"type":"text","text":"hi there"}]},"session_id":"s-1"}`
	ccTool      = `{"type":"assistant","message":{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls"}}]}}`
	ccToolRes   = `{"type":"user","message":{"role":"user","content":[{"tool_use_id":"t1","type":"tool_result","content":"a\nb","is_error":true}]}}`
	ccSynthetic = `{"type":"assistant","message":{"model":"<synthetic>","role":"assistant","content":[{"type":"text","text":"Invalid API key"}]},"isApiErrorMessage":true}`
	ccFlagged   = `{"type":"assistant","message":{"model":"claude-sonnet-4-5","role":"assistant","content":[{"type":"text","text":"API Error: 529"}]},"isApiErrorMessage":true}`
	ccResOK     = `{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"hi there","session_id":"s-1","total_cost_usd":0.065592,"usage":{"input_tokens":21854,"cache_creation_input_tokens":10,"cache_read_input_tokens":5,"output_tokens":2},"api_error_status":null}`
	ccRes401    = `{"type":"result","subtype":"success","is_error":true,"api_error_status":401,"num_turns":1,"result":"Invalid API key","session_id":"s-2"}`
	ccRes529    = `{"type":"result","subtype":"success","is_error":false,"api_error_status":529,"num_turns":1}`
	ccMaxTurns  = `{"type":"result","subtype":"error_max_turns","is_error":false,"num_turns":40}`
)

func TestParseClaude(t *testing.T) {
	for _, tt := range []struct {
		name    string
		line    string
		wantErr string // substring; "" for a good line
		check   func(ClaudeEvent) bool
	}{
		{"init", ccInit, "", func(e ClaudeEvent) bool {
			return e.Type == "system" && e.Subtype == "init" && e.SessionID == "s-1" && e.Init != nil &&
				e.Init.Model == "claude-sonnet-4-5" && e.Init.Version == "2.1.328" && len(e.Init.MCPServers) == 1 &&
				e.Init.MCPServers[0] == ClaudeMCPServer{"coord", "connected"} && e.Message == nil && e.Result == nil
		}},
		{"other system line", `{"type":"system","subtype":"compact_boundary","session_id":"s-1"}`, "", func(e ClaudeEvent) bool {
			return e.Init == nil && e.SessionID == "s-1"
		}},
		{"the model's text", ccText, "", func(e ClaudeEvent) bool {
			return e.ModelAnswered() && !e.Message.Plain && e.Message.Model == "claude-sonnet-4-5" &&
				len(e.Message.Content) == 1 && e.Message.Content[0].Text == "hi there"
		}},
		{"a tool call without a model name", ccTool, "", func(e ClaudeEvent) bool {
			b := e.Message.Content[0]
			return e.ModelAnswered() && b.Type == "tool_use" && b.Name == "Bash" && string(b.Input) == `{"command":"ls"}`
		}},
		{"a tool result is no answer", ccToolRes, "", func(e ClaudeEvent) bool {
			b := e.Message.Content[0]
			return !e.ModelAnswered() && b.ToolUseID == "t1" && b.IsError && string(b.Content) == `"a\nb"`
		}},
		{"the CLI's synthetic API error", ccSynthetic, "", func(e ClaudeEvent) bool {
			return !e.ModelAnswered() && e.IsAPIErrorMessage && e.Message.Model == SyntheticModel
		}},
		{"an API error flagged on a real model name", ccFlagged, "", func(e ClaudeEvent) bool { return !e.ModelAnswered() }},
		{"synthetic model without the flag", `{"type":"assistant","message":{"model":"<synthetic>","content":[]}}`, "", func(e ClaudeEvent) bool {
			return !e.ModelAnswered()
		}},
		{"no message", `{"type":"assistant"}`, "", func(e ClaudeEvent) bool { return e.ModelAnswered() && e.Message == nil }},
		{"null message", `{"type":"assistant","message":null}`, "", func(e ClaudeEvent) bool { return e.Message == nil }},
		{"string content", `{"type":"user","message":{"role":"user","content":"plain"}}`, "", func(e ClaudeEvent) bool {
			return e.Message.Plain && len(e.Message.Content) == 1 && reflect.DeepEqual(e.Message.Content[0], ClaudeBlock{Type: "text", Text: "plain"})
		}},
		{"null content is the empty string", `{"type":"assistant","message":{"content":null}}`, "", func(e ClaudeEvent) bool {
			return e.Message.Plain && len(e.Message.Content) == 1 && e.Message.Content[0].Text == ""
		}},
		{"no content", `{"type":"assistant","message":{"role":"assistant"}}`, "", func(e ClaudeEvent) bool {
			return !e.Message.Plain && e.Message.Content == nil
		}},
		{"success", ccResOK, "", func(e ClaudeEvent) bool {
			r := e.Result
			return r != nil && !r.Failed() && r.NumTurns == 1 && r.TotalCostUSD == 0.065592 && r.Usage.AllInputTokens() == 21869 &&
				r.Usage.OutputTokens == 2 && r.APIErrorStatus == nil && r.Result == "hi there" && e.SessionID == "s-1"
		}},
		{"a 401 that says success", ccRes401, "", func(e ClaudeEvent) bool {
			return e.Result.Failed() && *e.Result.APIErrorStatus == 401 && e.Result.SessionID == "s-2"
		}},
		{"a 529 that says neither is_error nor an error subtype", ccRes529, "", func(e ClaudeEvent) bool { return e.Result.Failed() }},
		{"an error subtype", ccMaxTurns, "", func(e ClaudeEvent) bool { return e.Result.Failed() && e.Result.NumTurns == 40 }},
		{"surrounding space", "  " + ccInit + "\n", "", func(e ClaudeEvent) bool { return string(e.Raw) == ccInit }},
		{"unknown type", `{"type":"stream_event","event":{}}`, "", func(e ClaudeEvent) bool {
			return e.Init == nil && e.Message == nil && e.Result == nil
		}},

		{"not JSON", "not json", "stream-json line: invalid character", nil},
		{"cut off", `{"type":"assis`, "stream-json line: unexpected end", nil},
		{"no type", `{}`, "stream-json line without a type: {}", nil},
		{"null", `null`, "without a type", nil},
		{"an array", `[]`, "stream-json line:", nil},
		{"a number for a type", `{"type":5}`, "stream-json line:", nil},
		{"content neither string nor blocks", `{"type":"assistant","message":{"content":{"a":1}}}`, "message content", nil},
		{"a result with a string for turns", `{"type":"result","num_turns":"1"}`, "stream-json line:", nil},
		{"a number for an init's model", `{"type":"system","subtype":"init","model":4}`, "stream-json line:", nil},
		// What only tests read is best effort: a shape the runner does
		// not read cannot cost it the result line.
		{"an init with a string for tools", `{"type":"system","subtype":"init","session_id":"s","tools":"Bash","cwd":"/h"}`, "", func(e ClaudeEvent) bool {
			return e.Init != nil && e.Init.Tools == nil && e.Init.CWD == "/h" && e.Init.SessionID == "s"
		}},
		{"a result with a float duration and an object of denials", `{"type":"result","num_turns":2,"duration_ms":1.5,"permission_denials":{},"is_error":true}`, "", func(e ClaudeEvent) bool {
			return e.Result != nil && e.Result.NumTurns == 2 && e.Result.IsError && e.Result.DurationMS == 0 && e.Result.Failed()
		}},
		// Every known field is checked on every line, as the runner
		// and the view always did.
		{"a string for a message on another type of line", `{"type":"error","message":"codex's error"}`, "stream-json line:", nil},
		{"a string for is_error on an assistant line", `{"type":"assistant","is_error":"yes"}`, "stream-json line:", nil},
	} {
		e, err := ParseClaude([]byte(tt.line))
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: ParseClaude(%q) error = %v, want %q", tt.name, tt.line, err, tt.wantErr)
			}
			if err != nil && e.Type != "" {
				t.Errorf("%s: ParseClaude(%q) failed but returned an event of type %q", tt.name, tt.line, e.Type)
			}
		case err != nil:
			t.Errorf("%s: ParseClaude(%q) = %v", tt.name, tt.line, err)
		case tt.check != nil && !tt.check(e):
			t.Errorf("%s: ParseClaude(%q) = %+v (message %+v, result %+v)", tt.name, tt.line, e, e.Message, e.Result)
		}
	}
}

func TestClaudeFlags(t *testing.T) {
	f := ClaudeFlags()
	if strings.Join(f, " ") != "--output-format stream-json --verbose" {
		t.Errorf("ClaudeFlags() = %q", f)
	}
	f[0] = "changed"
	if ClaudeFlags()[0] != "--output-format" {
		t.Error("ClaudeFlags shares its slice with callers")
	}
}
