package mcpserver

import (
	"encoding/json"
	"strings"
	"testing"
)

var argCases = []struct {
	tool string
	args string
	ok   bool
}{
	{toolList, `{}`, true},
	{toolList, `{"state":"claimed"}`, true},
	{toolList, `{"state":"finished"}`, false},
	{toolClaim, `{"id":"12"}`, true},
	{toolClaim, `{}`, false},
	{toolClaim, `{"id":12}`, false},
	{toolClaim, `{"id":"12","agent":"b"}`, false},
	{toolClaim, `{"id":"` + strings.Repeat("9", 65) + `"}`, false},
	{toolUpdate, `{"id":"1","status":"done","note":"PR 7"}`, true},
	{toolUpdate, `{"id":"1","status":"todo"}`, false},
	{toolUpdate, `{"id":"1"}`, false},
	{toolComment, `{"id":"1","body":"hi"}`, true},
	{toolComment, `{"id":"1","body":""}`, false},
	{toolPost, `{"body":"hi","to":"dev"}`, true},
	{toolPost, `{"body":"hi","to":"../dev"}`, false},
	{toolPost, `{"body":null}`, false},
	{toolInbox, `{}`, true},
	{toolInbox, `{"all":"yes"}`, false},
	{"rm_rf", `{}`, false},
}

func TestParseArgs(t *testing.T) {
	for _, tc := range argCases {
		var m map[string]any
		if err := json.Unmarshal([]byte(tc.args), &m); err != nil {
			t.Fatal(err)
		}
		_, err := ParseArgs(tc.tool, m)
		if (err == nil) != tc.ok {
			t.Errorf("ParseArgs(%s, %s) = %v, want ok %v", tc.tool, tc.args, err, tc.ok)
		}
	}
}

// FuzzParseArgs: the model writes tool arguments; none make ParseArgs
// panic, and what it accepts keeps the limits.
func FuzzParseArgs(f *testing.F) {
	for _, tc := range argCases {
		f.Add(tc.tool, tc.args)
	}
	f.Fuzz(func(t *testing.T, tool, raw string) {
		var m map[string]any
		if json.Unmarshal([]byte(raw), &m) != nil {
			return
		}
		a, err := ParseArgs(tool, m)
		if err != nil {
			return
		}
		if len(a.ID) > maxID || (toolArgs[tool]["id"] && a.ID == "") || a.Status == "todo" {
			t.Fatalf("ParseArgs(%s, %s) accepted %+v", tool, raw, a)
		}
	})
}
