package fakemodel_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"

	"github.com/clemhq/clem/tests/fakemodel"
)

// These tests drive the fake with Anthropic's official Go SDK, a real client
// of the wire format; tests/claude_smoke_test.go drives it with the CLI.

const key = "sk-ant-fake-unit-0123456789"

func client(s *fakemodel.Server, opts ...option.RequestOption) *anthropic.Client {
	c := anthropic.NewClient(append([]option.RequestOption{
		option.WithBaseURL(s.URL), option.WithAPIKey(key), option.WithMaxRetries(0),
	}, opts...)...)
	return &c
}

func params(conv, prompt string, msgs ...anthropic.MessageParam) anthropic.MessageNewParams {
	p := anthropic.MessageNewParams{
		Model: "claude-sonnet-4-5", MaxTokens: 1024,
		Messages: append([]anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(prompt))}, msgs...),
		Tools: []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{Name: "Bash",
			InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"command": map[string]string{"type": "string"}}}}}},
	}
	if conv != "" {
		p.System = []anthropic.TextBlockParam{{Text: "You are a test. " + fakemodel.Marker(conv)}}
	}
	return p
}

// stream runs one streaming request and returns the accumulated message.
func stream(t *testing.T, c *anthropic.Client, p anthropic.MessageNewParams) (anthropic.Message, []string) {
	t.Helper()
	st := c.Messages.NewStreaming(context.Background(), p)
	var msg anthropic.Message
	var types []string
	for st.Next() {
		ev := st.Current()
		types = append(types, ev.Type)
		if err := msg.Accumulate(ev); err != nil {
			t.Fatalf("accumulate %s: %v", ev.Type, err)
		}
	}
	if err := st.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	return msg, types
}

func TestStreamToolUseThenText(t *testing.T) {
	s := fakemodel.Start(t, fakemodel.Config{Keys: []string{key}})
	s.SetScript("conv1",
		fakemodel.Turn{Text: "Let me look. ünïcödé text long enough to be cut in pieces", Tools: []fakemodel.ToolCall{{Name: "Bash", Input: map[string]string{"command": "ls -la /tmp"}}}},
		fakemodel.Text("done"))
	c := client(s)

	msg, types := stream(t, c, params("conv1", "list files"))
	// The SDK does not surface ping events.
	wantTypes := []string{"message_start", "content_block_start", "content_block_delta", "content_block_delta"}
	if !slices.Equal(types[:4], wantTypes) || types[len(types)-2] != "message_delta" || types[len(types)-1] != "message_stop" {
		t.Errorf("event types = %v, want %v ... message_delta message_stop", types, wantTypes)
	}
	if msg.StopReason != "tool_use" || len(msg.Content) != 2 {
		t.Fatalf("message = %+v, want a text and a tool_use block, stop_reason tool_use", msg)
	}
	if msg.Content[0].Text != "Let me look. ünïcödé text long enough to be cut in pieces" {
		t.Errorf("text = %q", msg.Content[0].Text)
	}
	tu := msg.Content[1]
	var in map[string]string
	if err := json.Unmarshal(tu.Input, &in); err != nil || tu.Name != "Bash" || in["command"] != "ls -la /tmp" || !strings.HasPrefix(tu.ID, "toolu_") {
		t.Errorf("tool_use = name %q id %q input %s (%v)", tu.Name, tu.ID, tu.Input, err)
	}
	if msg.Usage.InputTokens == 0 || msg.Usage.OutputTokens == 0 {
		t.Errorf("usage = %+v, want tokens counted", msg.Usage)
	}

	msg2, _ := stream(t, c, params("conv1", "list files", msg.ToParam(),
		anthropic.NewUserMessage(anthropic.NewToolResultBlock(tu.ID, "file-a\nfile-b\n", false))))
	if msg2.StopReason != "end_turn" || len(msg2.Content) != 1 || msg2.Content[0].Text != "done" {
		t.Errorf("second message = %+v, want text done, end_turn", msg2)
	}
	trs := s.ToolResults("conv1")
	if len(trs) != 1 || trs[0].ToolUseID != tu.ID || trs[0].Name != "Bash" || trs[0].Content != "file-a\nfile-b" || trs[0].IsError {
		t.Errorf("ToolResults = %+v, want one Bash result file-a\\nfile-b", trs)
	}
	if string(trs[0].Input) != `{"command":"ls -la /tmp"}` {
		t.Errorf("ToolResults input = %s", trs[0].Input)
	}
	reqs := s.MessageRequests("conv1")
	if len(reqs) != 2 || reqs[0].Turn != 0 || reqs[1].Turn != 1 {
		t.Fatalf("requests of conv1 = %d, turns %v", len(reqs), reqs)
	}
	if k, how := reqs[0].Credential(); k != key || how != "x-api-key" {
		t.Errorf("credential = %q via %s, want the key via x-api-key", k, how)
	}
	if p := s.Problems(); len(p) != 0 {
		t.Errorf("problems: %v", p)
	}
}

func TestNonStreaming(t *testing.T) {
	s := fakemodel.Start(t, fakemodel.Config{Keys: []string{key}})
	s.SetScript("ns", fakemodel.Call("mcp__coord__claim_task", map[string]any{"task_id": "T-1", "lease_seconds": 600}))
	msg, err := client(s).Messages.New(context.Background(), params("ns", "claim"))
	if err != nil {
		t.Fatal(err)
	}
	if msg.StopReason != "tool_use" || len(msg.Content) != 1 || msg.Content[0].Name != "mcp__coord__claim_task" ||
		string(msg.Content[0].Input) != `{"lease_seconds":600,"task_id":"T-1"}` {
		t.Errorf("message = %+v", msg)
	}
}

func TestCredentials(t *testing.T) {
	s := fakemodel.Start(t, fakemodel.Config{Keys: []string{key, "oauth-placeholder-token"}, Default: fakemodel.Script{fakemodel.Text("ok")}})
	tests := []struct {
		name       string
		opts       []option.RequestOption
		wantStatus int
		wantMsg    string
	}{
		{"api key", nil, 200, ""},
		{"bearer", []option.RequestOption{option.WithHeaderDel("X-Api-Key"), option.WithAuthToken("oauth-placeholder-token")}, 200, ""},
		{"wrong key", []option.RequestOption{option.WithAPIKey("sk-ant-wrong")}, 401, "invalid x-api-key"},
		{"wrong bearer", []option.RequestOption{option.WithHeaderDel("X-Api-Key"), option.WithAuthToken("nope")}, 401, "Invalid bearer token"},
		{"no key", []option.RequestOption{option.WithHeaderDel("X-Api-Key")}, 401, "x-api-key header is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client(s, tc.opts...).Messages.New(context.Background(), params("", "creds "+tc.name))
			if tc.wantStatus == 200 {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			var apiErr *anthropic.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tc.wantStatus {
				t.Fatalf("New error = %v, want API error %d", err, tc.wantStatus)
			}
			var body struct {
				Type  string `json:"type"`
				Error struct{ Type, Message string }
			}
			json.Unmarshal([]byte(apiErr.RawJSON()), &body)
			if body.Type != "error" || body.Error.Type != "authentication_error" || body.Error.Message != tc.wantMsg {
				t.Errorf("error body = %s, want authentication_error %q", apiErr.RawJSON(), tc.wantMsg)
			}
		})
	}
	var refused []fakemodel.Request
	for _, r := range s.Requests() {
		if r.Status == 401 {
			refused = append(refused, r)
		}
	}
	if len(refused) != 3 || refused[0].Conversation != "creds wrong key" || refused[0].Turn != -1 {
		t.Errorf("refused requests = %v, want 3 filed under their prompts, no turn taken", refused)
	}
}

func TestErrorTurn(t *testing.T) {
	s := fakemodel.Start(t, fakemodel.Config{Keys: []string{key}})
	s.SetScript("err", fakemodel.Error(529, ""), fakemodel.Turn{Status: 400, ErrorType: "invalid_request_error", Message: "prompt is too long"})
	for _, want := range []struct {
		status int
		typ    string
		msg    string
	}{{529, "overloaded_error", "Overloaded"}, {400, "invalid_request_error", "prompt is too long"}} {
		_, err := client(s).Messages.New(context.Background(), params("err", "x"))
		var apiErr *anthropic.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != want.status {
			t.Fatalf("error = %v, want status %d", err, want.status)
		}
		if raw := apiErr.RawJSON(); !strings.Contains(raw, `"type":"`+want.typ+`"`) || !strings.Contains(raw, want.msg) {
			t.Errorf("error body = %s, want %s %q", raw, want.typ, want.msg)
		}
	}
}

func TestStallHoldsTheStreamOpen(t *testing.T) {
	s := fakemodel.Start(t, fakemodel.Config{Keys: []string{key}})
	s.SetScript("stall", fakemodel.Stall())
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	st := client(s).Messages.NewStreaming(ctx, params("stall", "hang"))
	var types []string
	for st.Next() {
		types = append(types, st.Current().Type)
	}
	if !slices.Equal(types, []string{"message_start"}) || !errors.Is(st.Err(), context.DeadlineExceeded) {
		t.Errorf("stalled stream: events %v, err %v; want message_start then the client's deadline", types, st.Err())
	}
}

func TestCloseReleasesStalls(t *testing.T) {
	s, err := fakemodel.New(fakemodel.Config{Keys: []string{key}, Default: fakemodel.Script{fakemodel.Stall()}})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"model":"m","max_tokens":1,"stream":true,"messages":[{"role":"user","content":"x"}]}`
	req, _ := http.NewRequest("POST", "/v1/messages", strings.NewReader(body))
	req.Header.Set("X-Api-Key", key)
	done := make(chan struct{})
	rec := &flushRecorder{header: http.Header{}}
	go func() { s.ServeHTTP(rec, req); close(done) }()
	// The request shows in Requests once it is stalling.
	deadline := time.Now().Add(5 * time.Second)
	for {
		reqs := s.Requests()
		if len(reqs) == 1 && reqs[0].Status == 200 && reqs[0].Turn == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 5 s, Requests() = %v, want the stalled request with turn 0", reqs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-done:
		t.Fatal("a stalled reply returned before Close")
	default:
	}
	s.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not release the stalled reply")
	}
	if !strings.HasPrefix(rec.body.String(), "event: message_start\n") || strings.Contains(rec.body.String(), "message_stop") {
		t.Errorf("stalled body = %q, want message_start only", rec.body.String())
	}
}

type flushRecorder struct {
	header http.Header
	body   strings.Builder
}

func (r *flushRecorder) Header() http.Header         { return r.header }
func (r *flushRecorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *flushRecorder) WriteHeader(int)             {}
func (r *flushRecorder) Flush()                      {}

func TestConversations(t *testing.T) {
	s := fakemodel.Start(t, fakemodel.Config{Keys: []string{key}, Scripts: map[string]fakemodel.Script{
		"by-prompt text": {fakemodel.Text("matched by prompt")},
		"marked":         {fakemodel.Text("matched by marker")},
	}})
	c := client(s)
	tests := []struct {
		name, conv, prompt string
		want               string // text, or "status N"
	}{
		{"prompt", "", "by-prompt text", "matched by prompt"},
		{"marker wins over prompt", "marked", "by-prompt text", "matched by marker"},
		{"script exhausted", "marked", "anything", "status 400"},
		{"no script", "", "unknown prompt", "status 400"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := c.Messages.New(context.Background(), params(tc.conv, tc.prompt))
			var apiErr *anthropic.Error
			switch {
			case errors.As(err, &apiErr):
				if got := "status " + itoa(apiErr.StatusCode); got != tc.want {
					t.Errorf("got %s (%s), want %s", got, apiErr.RawJSON(), tc.want)
				}
			case err != nil:
				t.Fatal(err)
			case msg.Content[0].Text != tc.want:
				t.Errorf("got %q, want %q", msg.Content[0].Text, tc.want)
			}
		})
	}
	p := s.Problems()
	if len(p) != 2 || !strings.Contains(p[0], `"marked" has 1 turns`) || !strings.Contains(p[1], `no script for conversation "unknown prompt"`) {
		t.Errorf("Problems = %q", p)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestToolSearchDeferral(t *testing.T) {
	s := fakemodel.Start(t, fakemodel.Config{Keys: []string{key}})
	s.SetScript("mcp", fakemodel.Call("mcp__coord__claim_task", map[string]string{"task_id": "T-9"}), fakemodel.Text("claimed"))
	c := client(s)
	offer := func(p anthropic.MessageNewParams, names ...string) anthropic.MessageNewParams {
		for _, n := range names {
			p.Tools = append(p.Tools, anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{Name: n, InputSchema: anthropic.ToolInputSchemaParam{}}})
		}
		return p
	}
	// The CLI offers only ToolSearch: the fake selects the MCP tool first.
	m1, err := c.Messages.New(context.Background(), offer(params("mcp", "claim"), "ToolSearch"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m1.Content) != 1 || m1.Content[0].Name != "ToolSearch" || string(m1.Content[0].Input) != `{"query":"select:mcp__coord__claim_task"}` {
		t.Fatalf("first reply = %+v, want ToolSearch select:mcp__coord__claim_task", m1.Content)
	}
	// Now offered: the scripted call.
	m2, err := c.Messages.New(context.Background(), offer(params("mcp", "claim", m1.ToParam(),
		anthropic.NewUserMessage(anthropic.NewToolResultBlock(m1.Content[0].ID, "", false))), "ToolSearch", "mcp__coord__claim_task"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m2.Content) != 1 || m2.Content[0].Name != "mcp__coord__claim_task" {
		t.Fatalf("second reply = %+v, want the scripted MCP call", m2.Content)
	}
	reqs := s.MessageRequests("mcp")
	if !reqs[0].ToolSearch || reqs[0].Turn != -1 || reqs[1].ToolSearch || reqs[1].Turn != 0 {
		t.Errorf("requests: ToolSearch %v/%v turns %d/%d", reqs[0].ToolSearch, reqs[1].ToolSearch, reqs[0].Turn, reqs[1].Turn)
	}
}

func TestSideEndpoints(t *testing.T) {
	s := fakemodel.Start(t, fakemodel.Config{Keys: []string{key}})
	tests := []struct {
		method, path string
		auth         bool
		wantStatus   int
		wantBody     string
	}{
		{"GET", "/api/claude_code/settings", false, 404, `"not_found_error"`},
		{"GET", "/api/claude_code/policy_limits", true, 404, `"not_found_error"`},
		{"POST", "/v1/messages/count_tokens?beta=true", true, 200, `"input_tokens":`},
		{"POST", "/v1/messages/count_tokens", false, 401, `"authentication_error"`},
		{"GET", "/v1/messages", true, 405, `"invalid_request_error"`},
		{"GET", "/v1/models", true, 404, `"not_found_error"`},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, s.URL+tc.path, strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hello"}]}`))
		if tc.auth {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.wantStatus || !strings.Contains(string(b), tc.wantBody) || resp.Header.Get("Request-Id") == "" {
			t.Errorf("%s %s = %d %s, want %d with %s and a request-id", tc.method, tc.path, resp.StatusCode, b, tc.wantStatus, tc.wantBody)
		}
	}
	if n := len(s.Requests()); n != len(tests) {
		t.Errorf("recorded %d requests, want %d", n, len(tests))
	}
}

func TestStartTLS(t *testing.T) {
	s, caPEM := fakemodel.StartTLS(t, fakemodel.Config{Keys: []string{key}, Default: fakemodel.Script{fakemodel.Text("over tls")}}, "api.anthropic.com")
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("CA PEM does not parse")
	}
	addr := strings.TrimPrefix(s.URL, "https://")
	// As agent-vault dials it: the real name, resolved to the fake's address.
	hc := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	c := anthropic.NewClient(option.WithBaseURL("https://api.anthropic.com"), option.WithAPIKey(key),
		option.WithHTTPClient(hc), option.WithMaxRetries(0))
	msg, err := c.Messages.New(context.Background(), params("", "tls"))
	if err != nil || msg.Content[0].Text != "over tls" {
		t.Fatalf("over TLS: %v %+v", err, msg)
	}
	// Any other name is not in the certificate.
	hc.Transport.(*http.Transport).TLSClientConfig.ServerName = "example.com"
	if _, err := hc.Get(s.URL); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("TLS with another name: err %v, want a certificate error", err)
	}
}

func TestMarker(t *testing.T) {
	if m := fakemodel.Marker("a.b_c-9"); m != "[fakemodel:conversation=a.b_c-9]" {
		t.Errorf("Marker = %q", m)
	}
	for _, bad := range []string{"", "has space", "x]y", strings.Repeat("a", 65)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Marker(%q) did not panic", bad)
				}
			}()
			fakemodel.Marker(bad)
		}()
	}
}
