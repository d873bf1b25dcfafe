package streamview

import (
	"strings"
	"testing"
)

// Real Claude Code 2.1.328 stream-json lines.
const (
	ccInit  = `{"type":"system","subtype":"init","cwd":"/h","session_id":"ecac961c-996c-4588-9e00-733bfc4b2371","tools":["Bash"],"model":"claude-sonnet-4-5","permissionMode":"bypassPermissions"}`
	ccText  = `{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"hi there"}]},"session_id":"ecac961c-996c-4588-9e00-733bfc4b2371"}`
	ccTool  = `{"type":"assistant","message":{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls"}}]}}`
	ccResOK = `{"duration_api_ms":20,"session_id":"ecac961c-996c-4588-9e00-733bfc4b2371","total_cost_usd":0.065592,"usage":{"input_tokens":21854,"cache_creation_input_tokens":10,"cache_read_input_tokens":5,"output_tokens":2},"is_error":false,"num_turns":1,"subtype":"success","api_error_status":null,"result":"hi there","type":"result"}`
)

func TestRender(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{ccInit, "· session ecac961c-996c-4588-9e00-733bfc4b2371, model claude-sonnet-4-5"},
		{ccText, "hi there"},
		{ccTool, `▶ Bash {"command":"ls"}`},
		{`{"type":"user","message":{"content":[{"type":"tool_result","content":"a\u001b[2Jb","is_error":true}]}}`, "◀ error: a[2Jb"},
		{ccResOK, "■ done: 1 turns, $0.0656\nhi there"},
		{"plain \x1b]0;title\x07text", "plain ]0;titletext"},
	} {
		if got := Render("claude-code", []byte(tc.line)); got != tc.want {
			t.Errorf("Render(%.40q) = %q, want %q", tc.line, got, tc.want)
		}
	}
	if got := Render("claude-code", []byte(`{"type":"assistant","message":{"content":[{"type":"text","text":"`+strings.Repeat("x", 5000)+`"}]}}`)); len(got) > 2010 {
		t.Errorf("long text rendered in %d bytes", len(got))
	}
}

// FuzzRender: any line renders without a panic and never lets a control
// character other than newline and tab through to a terminal.
func FuzzRender(f *testing.F) {
	for _, s := range []string{ccInit, ccText, ccTool, ccResOK, "plain \x1b]0;x\x07", `{"type":"user","message":{"content":"x"}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		for _, rt := range []string{"claude-code", "codex", ""} {
			for _, r := range Render(rt, []byte(line)) {
				if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
					t.Fatalf("Render(%q, %q) let control character %U through", rt, line, r)
				}
			}
		}
	})
}
