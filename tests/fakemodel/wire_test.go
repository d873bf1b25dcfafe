package fakemodel

import (
	"strings"
	"testing"
	"unicode/utf8"
)

var parseCases = []struct {
	name     string
	body     string
	wantErr  string
	wantConv string
}{
	{"string content", `{"model":"m","messages":[{"role":"user","content":"hello"}]}`, "", "hello"},
	{"reminders dropped", `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"<system-reminder>\nctx\n</system-reminder>"},{"type":"text","text":"do it"}]}]}`, "", "do it"},
	{"marker in system string", `{"model":"m","system":"x [fakemodel:conversation=abc] y","messages":[{"role":"user","content":"hello"}]}`, "", "abc"},
	{"marker in system blocks", `{"model":"m","system":[{"type":"text","text":"a"},{"type":"text","text":"[fakemodel:conversation=b-2]"}],"messages":[{"role":"user","content":"p"}]}`, "", "b-2"},
	{"marker in a system message", `{"model":"m","messages":[{"role":"user","content":"p"},{"role":"system","content":"[fakemodel:conversation=sm]"}]}`, "", "sm"},
	{"marker after the model spoke is ignored", `{"model":"m","messages":[{"role":"user","content":"p"},{"role":"assistant","content":"x"},{"role":"user","content":"[fakemodel:conversation=late]"}]}`, "", "p"},
	{"no model", `{"messages":[{"role":"user","content":"x"}]}`, "model", ""},
	{"no messages", `{"model":"m","messages":[]}`, "messages", ""},
	{"bad content", `{"model":"m","messages":[{"role":"user","content":7}]}`, "messages.0", ""},
	{"bad system", `{"model":"m","system":{},"messages":[{"role":"user","content":"x"}]}`, "system", ""},
	{"not json", `{"model":`, "messages request", ""},
}

func TestParseMessagesRequest(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseMessagesRequest([]byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseMessagesRequest(%s) error = %v, want one about %q", tc.body, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Conversation(); got != tc.wantConv {
				t.Errorf("Conversation() = %q, want %q", got, tc.wantConv)
			}
		})
	}
}

func FuzzParseMessagesRequest(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseMessagesRequest(body)
		if err != nil {
			return
		}
		if r.Model == "" || len(r.Messages) == 0 {
			t.Fatalf("accepted a request without model or messages: %s", body)
		}
		r.Conversation()
		r.SystemText()
		r.ToolNames()
		for _, m := range r.Messages {
			bs, err := m.Blocks()
			if err != nil {
				t.Fatalf("accepted message whose blocks do not parse: %v", err)
			}
			for _, b := range bs {
				toolResultText(b)
			}
		}
	})
}

func TestPieces(t *testing.T) {
	for _, s := range []string{"", "short", strings.Repeat("ab", 40), strings.Repeat("ü€😀", 20)} {
		ps := pieces(s, 7)
		if strings.Join(ps, "") != s {
			t.Errorf("pieces(%q) = %q, does not join back", s, ps)
		}
		for _, p := range ps {
			if !utf8.ValidString(p) || len(p) > 7 || p == "" {
				t.Errorf("pieces(%q): piece %q is empty, too long or cuts a rune", s, p)
			}
		}
	}
}
