package tests

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/clemhq/clem/shared/testutil/users"
	"github.com/clemhq/clem/tests/claudecode"
	"github.com/clemhq/clem/tests/fakemodel"
)

// These tests run the real Claude Code CLI (installed by .ci/run) headless
// as a throwaway non-root user against tests/fakemodel on 127.0.0.1.

const smokeKey = "sk-ant-fake-smoke-0123456789abcdef"

// smoke starts a fake model accepting smokeKey with one scripted
// conversation, and returns the options to run the CLI in it as a new user.
func smoke(t *testing.T, conv string, turns ...fakemodel.Turn) (*fakemodel.Server, claudecode.Options, users.User) {
	t.Helper()
	bin := claudecode.Path(t)
	agent := users.Add(t, "ccsm")
	model := fakemodel.Start(t, fakemodel.Config{Keys: []string{smokeKey}})
	model.SetScript(conv, turns...)
	return model, claudecode.Options{
		Bin: bin, Prompt: "smoke test " + conv, BaseURL: model.URL, APIKey: smokeKey, User: &agent,
		Args: []string{"--append-system-prompt", fakemodel.Marker(conv)},
	}, agent
}

// TestClaudeTextTurn: one text turn ends in a successful result line, and
// the fake received the key in X-Api-Key.
func TestClaudeTextTurn(t *testing.T) {
	model, opts, _ := smoke(t, "text", fakemodel.Text("hello from the fake model"))
	res := claudecode.Run(t, opts)
	t.Logf("claude: first line after %v, done after %v", res.FirstLine, res.Duration)

	f := res.Final
	if res.ExitCode != 0 || f == nil || f.IsError || f.NumTurns != 1 || f.Result != "hello from the fake model" {
		t.Fatalf("want exit 0 and a successful result with 1 turn; got %s", res)
	}
	if res.Init == nil || f.SessionID == "" || f.SessionID != res.Init.SessionID {
		t.Errorf("session id: result %q, init %+v", f.SessionID, res.Init)
	}
	if res.Init != nil && (res.Init.PermissionMode != "bypassPermissions" || res.Init.Model != claudecode.DefaultModel || res.Init.Version != claudecode.Version) {
		t.Errorf("init = %+v, want bypassPermissions, model %s, version %s", res.Init, claudecode.DefaultModel, claudecode.Version)
	}
	if texts := res.Texts(); !slices.Equal(texts, []string{"hello from the fake model"}) {
		t.Errorf("assistant texts = %q", texts)
	}
	reqs := model.Requests()
	if len(reqs) != 1 {
		t.Fatalf("the fake saw %d requests, want 1: %v", len(reqs), reqs)
	}
	r := reqs[0]
	if k, how := r.Credential(); k != smokeKey || how != "x-api-key" {
		t.Errorf("the fake got a credential of %d bytes via %q, want the key via x-api-key", len(k), how)
	}
	if r.Path != "/v1/messages" || r.Query != "beta=true" || !r.Messages.Stream || r.Header.Get("Anthropic-Version") != "2023-06-01" {
		t.Errorf("request = %s %s?%s stream=%v version=%q", r.Method, r.Path, r.Query, r.Messages.Stream, r.Header.Get("Anthropic-Version"))
	}
	if r.Messages.Prompt() != opts.Prompt {
		t.Errorf("prompt the fake saw = %q, want %q", r.Messages.Prompt(), opts.Prompt)
	}
	if p := model.Problems(); len(p) != 0 {
		t.Errorf("fake model problems: %v", p)
	}
}

// TestClaudeBashTool: the model calls Bash; the CLI runs it as the agent's
// user and sends the output back as a tool_result.
func TestClaudeBashTool(t *testing.T) {
	model, opts, agent := smoke(t, "bash", fakemodel.Bash("echo hello-from-agent; id -un"), fakemodel.Text("ran it"))
	res := claudecode.Run(t, opts)
	if res.ExitCode != 0 || res.Final == nil || res.Final.IsError || res.Final.NumTurns != 2 || res.Final.Result != "ran it" {
		t.Fatalf("want exit 0 and a successful result with 2 turns; got %s", res)
	}
	trs := model.ToolResults("bash")
	if len(trs) != 1 || trs[0].Name != "Bash" || trs[0].IsError {
		t.Fatalf("tool results = %+v, want one Bash result", trs)
	}
	if want := "hello-from-agent\n" + agent.Name; trs[0].Content != want {
		t.Errorf("Bash result = %q, want %q (output of the command, run as the agent)", trs[0].Content, want)
	}
	if uses := res.ToolUses(); len(uses) != 1 || uses[0].Name != "Bash" {
		t.Errorf("stream-json tool uses = %+v", uses)
	}
	if p := model.Problems(); len(p) != 0 {
		t.Errorf("fake model problems: %v", p)
	}
}

// TestClaudeWrongKey: a refused key ends the run at once with exit 1 and an
// error result naming the 401, though the subtype says success.
func TestClaudeWrongKey(t *testing.T) {
	model, opts, _ := smoke(t, "wrongkey", fakemodel.Text("never sent"))
	opts.APIKey = "sk-ant-wrong-key"
	res := claudecode.Run(t, opts)
	f := res.Final
	if res.ExitCode != 1 || f == nil || !f.IsError || f.APIErrorStatus == nil || *f.APIErrorStatus != 401 {
		t.Fatalf("want exit 1 and an error result with api_error_status 401; got %s", res)
	}
	if !strings.Contains(f.Result, "Invalid API key") {
		t.Errorf("result text = %q, want it to say Invalid API key", f.Result)
	}
	reqs := model.Requests()
	if len(reqs) != 1 || reqs[0].Status != 401 || reqs[0].Conversation != "wrongkey" || reqs[0].Turn != -1 {
		t.Fatalf("the fake saw %v, want one refused request in wrongkey and no turn taken", reqs)
	}
	if k, _ := reqs[0].Credential(); k != "sk-ant-wrong-key" {
		t.Errorf("the fake got another credential than the wrong key")
	}
}

// TestClaudeMCPTool: an MCP server over Streamable HTTP given with
// --mcp-config; the model calls its tool, deferred behind ToolSearch (the
// CLI's default) or listed up front (ENABLE_TOOL_SEARCH=false).
func TestClaudeMCPTool(t *testing.T) {
	var mu sync.Mutex
	var pinged []string
	ms := server.NewMCPServer("test", "1.0.0")
	ms.AddTool(mcp.NewTool("ping", mcp.WithDescription("Answers pong and the message."), mcp.WithString("message")),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			msg := req.GetString("message", "")
			mu.Lock()
			pinged = append(pinged, msg)
			mu.Unlock()
			return mcp.NewToolResultText("pong: " + msg), nil
		})
	hs := httptest.NewServer(server.NewStreamableHTTPServer(ms))
	t.Cleanup(hs.Close)
	mcpConfig := fmt.Sprintf(`{"mcpServers":{"test":{"type":"http","url":%q}}}`, hs.URL+"/mcp")

	for _, tc := range []struct {
		name     string
		env      []string
		deferred bool
	}{
		{"deferred", nil, true},
		{"listed", []string{"ENABLE_TOOL_SEARCH=false"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conv := "mcp-" + tc.name
			model, opts, _ := smoke(t, conv,
				fakemodel.Call("mcp__test__ping", map[string]string{"message": conv}), fakemodel.Text("pinged"))
			opts.Args = append(opts.Args, "--mcp-config", mcpConfig, "--strict-mcp-config")
			opts.Env = tc.env
			res := claudecode.Run(t, opts)
			if res.ExitCode != 0 || res.Final == nil || res.Final.IsError || res.Final.Result != "pinged" {
				t.Fatalf("want exit 0 and a successful result; got %s", res)
			}
			if res.Init == nil || !slices.Contains(res.Init.MCPServers, claudecode.MCPServer{Name: "test", Status: "connected"}) ||
				!slices.Contains(res.Init.Tools, "mcp__test__ping") {
				t.Errorf("init = %+v, want server test connected and tool mcp__test__ping", res.Init)
			}
			var ping *fakemodel.ToolResult
			for _, tr := range model.ToolResults(conv) {
				if tr.Name == "mcp__test__ping" {
					ping = &tr
				}
			}
			if ping == nil || ping.Content != "pong: "+conv || ping.IsError {
				t.Fatalf("tool results = %+v, want mcp__test__ping answered pong: %s", model.ToolResults(conv), conv)
			}
			mu.Lock()
			called := slices.Contains(pinged, conv)
			mu.Unlock()
			if !called {
				t.Errorf("the MCP server was not called with %q: %q", conv, pinged)
			}
			reqs := model.MessageRequests(conv)
			offered := slices.Contains(reqs[0].Messages.ToolNames(), "mcp__test__ping")
			if offered == tc.deferred || reqs[0].ToolSearch != tc.deferred {
				t.Errorf("first request offers mcp__test__ping: %v, fake answered ToolSearch: %v; want deferred=%v", offered, reqs[0].ToolSearch, tc.deferred)
			}
			if p := model.Problems(); len(p) != 0 {
				t.Errorf("fake model problems: %v", p)
			}
		})
	}
}

// TestClaudeStallTimesOut: a model that starts a message and goes silent
// leaves the CLI waiting; Run kills its process group at the timeout and
// nothing of the agent's user is left running.
func TestClaudeStallTimesOut(t *testing.T) {
	model, opts, agent := smoke(t, "stall", fakemodel.Stall())
	opts.Timeout = 4 * time.Second
	res := claudecode.Run(t, opts)
	if !res.TimedOut || res.ExitCode != -1 || res.Final != nil {
		t.Fatalf("want a run killed at the timeout without a result; got %s", res)
	}
	if reqs := model.MessageRequests("stall"); len(reqs) != 1 || reqs[0].Turn != 0 {
		t.Errorf("the fake saw %v, want the one stalled request", reqs)
	}
	if left := processesOf(t, agent.UID); len(left) > 0 {
		t.Errorf("processes of %s left after the timeout: %v", agent.Name, left)
	}
}

// processesOf lists the pids whose real uid is uid.
func processesOf(t *testing.T, uid uint32) []string {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*/status")
	if err != nil {
		t.Fatal(err)
	}
	var pids []string
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue // gone meanwhile
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" && f[1] == strconv.FormatUint(uint64(uid), 10) {
				pids = append(pids, filepath.Base(filepath.Dir(d)))
			}
		}
	}
	return pids
}

// TestClaudeOAuthToken: CLAUDE_CODE_OAUTH_TOKEN, any string (a placeholder
// here), goes out as Authorization: Bearer with the OAuth beta.
func TestClaudeOAuthToken(t *testing.T) {
	const token = "__clem_lead_anthropic_oauth_7f3a9c__"
	bin := claudecode.Path(t)
	agent := users.Add(t, "ccsm")
	model := fakemodel.Start(t, fakemodel.Config{Keys: []string{token}})
	model.SetScript("oauth", fakemodel.Text("hello bearer"))
	res := claudecode.Run(t, claudecode.Options{Bin: bin, Prompt: "hi", BaseURL: model.URL, OAuthToken: token, User: &agent,
		Args: []string{"--append-system-prompt", fakemodel.Marker("oauth")}})
	if res.ExitCode != 0 || res.Final == nil || res.Final.IsError || res.Final.Result != "hello bearer" {
		t.Fatalf("want a successful run; got %s", res)
	}
	r := model.MessageRequests("oauth")[0]
	if k, how := r.Credential(); k != token || how != "bearer" || !strings.Contains(r.Header.Get("Anthropic-Beta"), "oauth-2025-04-20") {
		t.Errorf("credential via %q (right token: %v), anthropic-beta %q; want the token as Bearer with oauth-2025-04-20",
			how, k == token, r.Header.Get("Anthropic-Beta"))
	}
}

// TestClaudeOverTLS: the fake over HTTPS with its own CA, trusted by the
// CLI through NODE_EXTRA_CA_CERTS, as it trusts agent-vault's.
func TestClaudeOverTLS(t *testing.T) {
	bin := claudecode.Path(t)
	agent := users.Add(t, "ccsm")
	model, caPEM := fakemodel.StartTLS(t, fakemodel.Config{Keys: []string{smokeKey}}, "api.anthropic.com")
	model.SetScript("tls", fakemodel.Text("hello over tls"))
	dir, err := os.MkdirTemp("", "clem-claude-ca-") // t.TempDir's parent is closed to the agent
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := claudecode.Options{Bin: bin, Prompt: "hi", BaseURL: model.URL, APIKey: smokeKey, User: &agent,
		Args: []string{"--append-system-prompt", fakemodel.Marker("tls")}}
	if res := claudecode.Run(t, opts); res.ExitCode != 1 || res.Final == nil || !res.Final.IsError {
		t.Errorf("without the CA: want exit 1 and an error result; got %s", res)
	} else {
		t.Logf("without the CA: %s", res.Final.Result)
	}
	opts.Env = []string{"NODE_EXTRA_CA_CERTS=" + ca}
	res := claudecode.Run(t, opts)
	if res.ExitCode != 0 || res.Final == nil || res.Final.IsError || res.Final.Result != "hello over tls" {
		t.Fatalf("with NODE_EXTRA_CA_CERTS: want a successful run; got %s", res)
	}
	if n := len(model.MessageRequests("tls")); n != 1 {
		t.Errorf("the fake saw %d requests over TLS, want 1 (none without the CA)", n)
	}
}

// TestClaudeContinue: a second run in the same HOME with --continue sends
// the first run's exchange along with the new prompt.
func TestClaudeContinue(t *testing.T) {
	model, opts, agent := smoke(t, "continue", fakemodel.Text("first answer"), fakemodel.Text("second answer"))
	home, err := os.MkdirTemp("", "clem-claude-home-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	if err := os.Chown(home, int(agent.UID), int(agent.GID)); err != nil {
		t.Fatal(err)
	}
	opts.Home = home
	first := claudecode.Run(t, opts)
	opts.Prompt = "and now the second"
	opts.Args = append(opts.Args, "--continue")
	second := claudecode.Run(t, opts)
	if first.ExitCode != 0 || second.ExitCode != 0 || second.Final == nil || second.Final.Result != "second answer" {
		t.Fatalf("want two successful runs; got\n%s\n%s", first, second)
	}
	reqs := model.MessageRequests("continue")
	if len(reqs) != 2 {
		t.Fatalf("the fake saw %d requests, want 2", len(reqs))
	}
	var roles []string
	sawFirst := false
	for _, m := range reqs[1].Messages.Messages {
		roles = append(roles, m.Role)
		bs, _ := m.Blocks()
		for _, b := range bs {
			sawFirst = sawFirst || (m.Role == "assistant" && b.Text == "first answer")
		}
	}
	if !sawFirst {
		t.Errorf("the second request (roles %v) does not carry the first answer", roles)
	}
}
