package fleet

import (
	"strings"
	"testing"
)

// TestRender: a transcript reads as the pane shows it; lines that are not
// stream events are skipped and escape sequences from the model removed.
func TestRender(t *testing.T) {
	in := strings.Join([]string{
		`{"type":"system","subtype":"init","session_id":"s-1","model":"claude-sonnet"}`,
		`{"type":"assistant","message":{"content":[{"type":"text","text":"Claiming \u001b[2Jthe task."}]}}`,
		`{"type":"assistant","message":{"content":[{"type":"tool_use","name":"mcp__coord__claim_task","input":{"id":"7"}}]}}`,
		`{"type":"user","message":{"content":[{"type":"tool_result","content":"claimed","is_error":true}]}}`,
		`{"type":"clem_output","text":"not a stream event"}`,
		`{"type":"result","subtype":"success","is_error":false,"num_turns":3,"total_cost_usd":0.0123,"result":"Done."}`,
	}, "\n")
	var b strings.Builder
	if err := Render(&b, strings.NewReader(in), "claude-code"); err != nil {
		t.Fatal(err)
	}
	want := `· session s-1, model claude-sonnet
Claiming [2Jthe task.
▶ mcp__coord__claim_task {"id":"7"}
◀ error: claimed
■ done: 3 turns, $0.0123
Done.
`
	if b.String() != want {
		t.Errorf("Render =\n%s\nwant\n%s", b.String(), want)
	}
}
