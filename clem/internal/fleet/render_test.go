package fleet

import (
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	in := strings.Join([]string{
		`{"type":"system","subtype":"init","session_id":"s-1","model":"claude-sonnet"}`,
		`{"type":"assistant","message":{"content":[{"type":"text","text":"Claiming the task."}]}}`,
		`{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash","input":{"command":"echo hi"}}]}}`,
		`{"type":"user","message":{"content":[{"type":"tool_result","content":"hi","is_error":false}]}}`,
		`{"type":"assistant","message":{"content":[{"type":"tool_use","name":"mcp__coord__claim_task","input":{"id":"7"}}]}}`,
		`{"type":"user","message":{"content":[{"type":"tool_result","content":[{"type":"text","text":"claimed"}],"is_error":true}]}}`,
		`not json`,
		`{"type":"result","subtype":"success","is_error":false,"num_turns":3,"total_cost_usd":0.0123,"duration_ms":4200}`,
	}, "\n")
	var b strings.Builder
	if err := Render(&b, strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	want := `── session s-1, model claude-sonnet
  Claiming the task.
  → Bash echo hi
  ← hi
  → mcp__coord__claim_task {"id":"7"}
  ← error: claimed
── result: ok (success), 3 turns, $0.0123, 4.2s
`
	if b.String() != want {
		t.Errorf("Render =\n%s\nwant\n%s", b.String(), want)
	}
}

func FuzzRender(f *testing.F) {
	f.Add(`{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash","input":{"command":"x"}}]}}`)
	f.Add(`{"type":"user","message":{"content":[{"type":"tool_result","content":[{"text":"a"}]}]}}`)
	f.Add(`{"type":"result","is_error":true,"result":"boom"}`)
	f.Fuzz(func(t *testing.T, line string) {
		var b strings.Builder
		Render(&b, strings.NewReader(line))
	})
}
