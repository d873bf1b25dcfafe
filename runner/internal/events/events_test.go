package events

import (
	"testing"
)

// Lines as the real CLI 2.1.328 prints them (shortened).
const (
	ccInit   = `{"type":"system","subtype":"init","cwd":"/h","session_id":"ecac961c-996c-4588-9e00-733bfc4b2371","tools":["Bash"],"model":"claude-sonnet-4-5","permissionMode":"bypassPermissions"}`
	ccText   = `{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"hi there"}]},"session_id":"ecac961c-996c-4588-9e00-733bfc4b2371"}`
	ccTool   = `{"type":"assistant","message":{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls"}}]}}`
	ccResOK  = `{"duration_api_ms":20,"session_id":"ecac961c-996c-4588-9e00-733bfc4b2371","total_cost_usd":0.065592,"usage":{"input_tokens":21854,"cache_creation_input_tokens":10,"cache_read_input_tokens":5,"output_tokens":2},"is_error":false,"num_turns":1,"subtype":"success","api_error_status":null,"result":"hi there","type":"result"}`
	ccRes401 = `{"type":"result","subtype":"success","is_error":true,"api_error_status":401,"num_turns":1,"total_cost_usd":0,"result":"Invalid API key · Fix external API key","session_id":"s2"}`
)

func TestClaude(t *testing.T) {
	p := New("claude-code")
	for _, l := range []string{ccInit, ccText, "not json", ccTool} {
		p.Line([]byte(l))
	}
	if s := p.Summary(); s.Final || s.SessionID != "ecac961c-996c-4588-9e00-733bfc4b2371" {
		t.Errorf("before the result: %+v", s)
	}
	p.Line([]byte(ccResOK))
	s := p.Summary()
	if !s.Final || s.IsError || s.Turns != 1 || s.CostUSD != 0.065592 || s.InputTokens != 21869 || s.OutputTokens != 2 || s.Result != "hi there" || s.APIErrorStatus != nil {
		t.Errorf("Summary = %+v", s)
	}

	p = New("claude-code")
	p.Line([]byte(ccRes401))
	s = p.Summary()
	if !s.IsError || s.APIErrorStatus == nil || *s.APIErrorStatus != 401 || s.Error != "Invalid API key · Fix external API key" || s.SessionID != "s2" {
		t.Errorf("a 401 that says subtype success: %+v", s)
	}
	p = New("claude-code")
	p.Line([]byte(`{"type":"result","subtype":"error_max_turns","is_error":false,"num_turns":40}`))
	if s := p.Summary(); !s.IsError || s.Error != "error_max_turns" {
		t.Errorf("error subtype: %+v", s)
	}
}

// TestClaudeAnswered: the model's own answer marks the prompt delivered;
// the CLI's synthetic API-error message and the system line do not.
func TestClaudeAnswered(t *testing.T) {
	synthetic := `{"type":"assistant","message":{"model":"<synthetic>","role":"assistant","content":[{"type":"text","text":"API Error: 401"}]},"isApiErrorMessage":true}`
	flagged := `{"type":"assistant","message":{"model":"claude-sonnet-4-5","role":"assistant","content":[{"type":"text","text":"API Error: 529"}]},"isApiErrorMessage":true}`
	real := `{"type":"assistant","message":{"model":"claude-sonnet-4-5","id":"msg_1","role":"assistant","content":[{"type":"text","text":"on it"}]}}`
	for _, tt := range []struct {
		name  string
		lines []string
		want  bool
	}{
		{"init only", []string{ccInit}, false},
		{"a 401 the CLI reported", []string{ccInit, synthetic, ccRes401}, false},
		{"an API error flagged on a real model name", []string{ccInit, flagged}, false},
		{"the model answered", []string{ccInit, real}, true},
		{"answered, then an API error later in the run", []string{ccInit, real, synthetic, ccRes401}, true},
		{"a fixture without a model name", []string{ccInit, ccText}, true},
	} {
		p := New("claude-code")
		for _, l := range tt.lines {
			p.Line([]byte(l))
		}
		if got := p.Summary().Answered; got != tt.want {
			t.Errorf("%s: Answered = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCodexAndPlain(t *testing.T) {
	p := New("codex")
	for _, l := range []string{
		`{"type":"thread.started","thread_id":"th_1"}`,
		`{"type":"item.completed","item":{"id":"i","type":"agent_message","text":"done it"}}`,
		`{"type":"turn.completed","usage":{"input_tokens":100,"cached_input_tokens":0,"output_tokens":7}}`,
	} {
		p.Line([]byte(l))
	}
	if s := p.Summary(); !s.Final || s.IsError || s.SessionID != "th_1" || s.Turns != 1 || s.InputTokens != 100 || s.Result != "done it" {
		t.Errorf("codex = %+v", s)
	}
	p.Line([]byte(`{"type":"turn.failed","error":{"message":"401 Unauthorized"}}`))
	if s := p.Summary(); !s.IsError || s.Error != "401 Unauthorized" {
		t.Errorf("codex failure = %+v", s)
	}
	p = New("command")
	p.Line([]byte("working"))
	p.Line([]byte("all good  "))
	p.Line([]byte(""))
	if s := p.Summary(); s.Result != "all good" || s.IsError {
		t.Errorf("command = %+v", s)
	}
}
