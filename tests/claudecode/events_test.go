package claudecode

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Lines as the CLI 2.1.328 prints them, shortened.
const (
	initLine      = `{"type":"system","subtype":"init","cwd":"/tmp/h","session_id":"s-1","tools":["Bash","mcp__test__ping"],"mcp_servers":[{"name":"test","status":"connected"}],"model":"claude-sonnet-4-5","permissionMode":"bypassPermissions","claude_code_version":"2.1.328"}`
	assistantLine = `{"type":"assistant","message":{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"ls"}}]},"session_id":"s-1"}`
	userLine      = `{"type":"user","message":{"role":"user","content":[{"tool_use_id":"toolu_1","type":"tool_result","content":"a\nb","is_error":false}]},"session_id":"s-1"}`
	textLine      = `{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"done"}]},"session_id":"s-1"}`
	resultLine    = `{"type":"result","subtype":"success","is_error":true,"api_error_status":401,"result":"Invalid API key","num_turns":1,"total_cost_usd":0,"duration_ms":88,"session_id":"s-1","permission_denials":[]}`
)

var streamCases = []struct {
	name                  string
	out                   string
	wantEvents, wantBad   int
	wantInit, wantFinal   bool
	wantTexts, wantTools  int
	wantAPIStatus         int
	wantResultIsError     bool
	wantInitMCPConnected  bool
	wantFinalResultString string
}{
	{name: "full run", out: strings.Join([]string{initLine, assistantLine, userLine, textLine, resultLine}, "\n") + "\n",
		wantEvents: 5, wantInit: true, wantFinal: true, wantTexts: 1, wantTools: 1, wantAPIStatus: 401,
		wantResultIsError: true, wantInitMCPConnected: true, wantFinalResultString: "Invalid API key"},
	{name: "bare mode ui_invalidate first", out: `{"type":"ui_invalidate"}` + "\n" + initLine + "\n",
		wantEvents: 2, wantInit: true, wantInitMCPConnected: true},
	{name: "killed mid-run", out: initLine + "\n" + `{"type":"assis`, wantEvents: 1, wantBad: 1, wantInit: true, wantInitMCPConnected: true},
	{name: "noise", out: "not json\n\n{}\n", wantBad: 2},
	{name: "string content", out: `{"type":"user","message":{"role":"user","content":"plain"}}`, wantEvents: 1},
}

func TestParseStream(t *testing.T) {
	for _, tc := range streamCases {
		t.Run(tc.name, func(t *testing.T) {
			events, init, final, bad := ParseStream([]byte(tc.out))
			r := Result{Events: events, Init: init, Final: final, BadLines: bad}
			if len(events) != tc.wantEvents || len(bad) != tc.wantBad || (init != nil) != tc.wantInit || (final != nil) != tc.wantFinal {
				t.Fatalf("ParseStream: %d events, %d bad (%q), init %v, final %v; want %d, %d, %v, %v",
					len(events), len(bad), bad, init != nil, final != nil, tc.wantEvents, tc.wantBad, tc.wantInit, tc.wantFinal)
			}
			if len(r.Texts()) != tc.wantTexts || len(r.ToolUses()) != tc.wantTools {
				t.Errorf("Texts %q, ToolUses %+v; want %d and %d", r.Texts(), r.ToolUses(), tc.wantTexts, tc.wantTools)
			}
			if init != nil && (init.SessionID != "s-1" || init.Version != "2.1.328" ||
				(len(init.MCPServers) == 1 && init.MCPServers[0].Status == "connected") != tc.wantInitMCPConnected) {
				t.Errorf("init = %+v", init)
			}
			if final != nil {
				if final.IsError != tc.wantResultIsError || final.APIErrorStatus == nil || *final.APIErrorStatus != tc.wantAPIStatus || final.Result != tc.wantFinalResultString {
					t.Errorf("final = %+v", final)
				}
				if !strings.Contains(r.String(), `"api_error_status":401`) {
					t.Errorf("String() = %q, want the result line in it", r.String())
				}
			}
		})
	}
}

func FuzzParseStream(f *testing.F) {
	for _, tc := range streamCases {
		f.Add([]byte(tc.out))
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		events, _, _, _ := ParseStream(out)
		for _, e := range events {
			if e.Type == "" || len(e.Raw) == 0 {
				t.Fatalf("event without type or raw line: %+v", e)
			}
		}
		r := Result{Events: events}
		r.Texts()
		r.ToolUses()
		_ = r.String()
	})
}

func TestFind(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "claude")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, nil, 0o644)
	tests := []struct {
		name, env, wantErr string
	}{
		{"executable", exe, ""},
		{"missing", filepath.Join(dir, "nope"), "does not exist"},
		{"not executable", plain, "not an executable"},
		{"a directory", dir, "not an executable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(BinEnv, tc.env)
			got, err := find()
			if tc.wantErr == "" {
				if err != nil || got != tc.env {
					t.Errorf("find() = %q, %v; want %q", got, err, tc.env)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "$"+BinEnv) {
				t.Errorf("find() error = %v, want %q naming $%s", err, tc.wantErr, BinEnv)
			}
		})
	}
}

func TestEnvIsComplete(t *testing.T) {
	env := Env(Options{Home: "/h", BaseURL: "http://127.0.0.1:1", APIKey: "k", Env: []string{"CLAUDE_CODE_MAX_RETRIES=2"}})
	for _, want := range append([]string{"HOME=/h", "CLAUDE_CODE_TMPDIR=/h/tmp", "ANTHROPIC_BASE_URL=http://127.0.0.1:1", "ANTHROPIC_API_KEY=k"}, QuietEnv...) {
		found := false
		for _, e := range env {
			found = found || e == want
		}
		if !found {
			t.Errorf("Env lacks %s: %q", want, env)
		}
	}
	if last := env[len(env)-1]; last != "CLAUDE_CODE_MAX_RETRIES=2" {
		t.Errorf("Options.Env must come last (exec keeps the last duplicate); last = %q", last)
	}
}
