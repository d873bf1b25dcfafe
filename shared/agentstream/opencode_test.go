package agentstream

import (
	"strings"
	"testing"
)

func TestParseOpenCode(t *testing.T) {
	for _, tt := range []struct {
		line              string
		wantErr           string
		wantFailed        bool
		wantErrorText     string
		wantSession, text string
	}{
		{line: `{"type":"text","sessionID":"ses_1","part":{"type":"text","text":"hello"}}`, wantErrorText: "null", wantSession: "ses_1", text: "hello"},
		// Error comes back as compact JSON with sorted keys, as
		// encoding/json writes any value.
		{line: `{"type":"error","error":{"name":"APIError","data":{"message":"<b> & x","n":1e21}}}`, wantFailed: true,
			wantErrorText: `{"data":{"message":"\u003cb\u003e \u0026 x","n":1e+21},"name":"APIError"}`},
		{line: `{"type":"error"}`, wantFailed: true, wantErrorText: "null"},
		{line: `{"type":"x","error":"plain"}`, wantFailed: true, wantErrorText: `"plain"`},
		{line: `{"type":"x","error":null}`, wantErrorText: "null"},
		{line: `{"sessionID":"ses_3"}`, wantErrorText: "null", wantSession: "ses_3"},
		{line: `not json`, wantErr: "opencode json line: invalid character"},
		{line: `{"part":"text"}`, wantErr: "opencode json line"},
	} {
		e, err := ParseOpenCode([]byte(tt.line))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseOpenCode(%q) error = %v, want %q", tt.line, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseOpenCode(%q) = %v", tt.line, err)
			continue
		}
		text := ""
		if e.Part != nil {
			text = e.Part.Text
		}
		if e.Failed() != tt.wantFailed || e.ErrorText() != tt.wantErrorText || e.SessionID != tt.wantSession || text != tt.text {
			t.Errorf("ParseOpenCode(%q) = %+v: Failed %v, ErrorText %q; want %v, %q, session %q, text %q",
				tt.line, e, e.Failed(), e.ErrorText(), tt.wantFailed, tt.wantErrorText, tt.wantSession, tt.text)
		}
	}
	if f := strings.Join(OpenCodeFlags(), " "); f != "--format json" {
		t.Errorf("OpenCodeFlags() = %q", f)
	}
}
