package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/testutil/mcpsession"
	"github.com/clemhq/clem/sidecar/internal/backend"
	"github.com/clemhq/clem/sidecar/internal/testmcp"
)

// me is this test process's uid: the kernel reports it for our own calls.
var me = os.Getuid()

func oneServer(e *env, extra string) {
	e.write(fmt.Sprintf(`
[[client]]
name = "lead"
uids = [%d]

[[client]]
name = "other"
uids = [4242420]

[[server]]
name = "tools"
listen = "127.0.0.1:0"
command = [{{BIN}}]
agents = ["lead"]
%s`, me, extra))
}

// TestListAndCall: the allowed agent lists the child's tools and calls one;
// the call is audited with sizes, not contents.
func TestListAndCall(t *testing.T) {
	e := newEnv(t)
	oneServer(e, "")
	e.start(Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := mcpsession.Open(ctx, e.url("tools"), "agent", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tools, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
	}
	if !slices.Contains(names, "echo") || !slices.Contains(names, "env") {
		t.Errorf("tools = %v, want the child's echo and env", names)
	}
	text, isErr, err := mcpsession.Call(ctx, c, "echo", map[string]any{"text": "payload-7f3a"})
	if err != nil || isErr || text != "payload-7f3a" {
		t.Fatalf("echo = %q, %v, %v", text, isErr, err)
	}
	recs := e.records("tool_call")
	if len(recs) != 1 {
		t.Fatalf("tool_call records = %d, want 1:\n%s", len(recs), e.auditText())
	}
	r := recs[0]
	if r.Decision != audit.Allow || r.Agent != "lead" || r.UID == nil || *r.UID != uint32(me) || r.Target != "tools" || r.Path != "echo" || r.Method != "tools/call" || r.BytesUp == 0 || r.BytesDown == 0 || r.Error != "" || r.Component != "sidecar" {
		t.Errorf("record = %+v", r)
	}
	if strings.Contains(e.auditText(), "payload-7f3a") {
		t.Error("the audit log holds the call's arguments or result")
	}
	if text, isErr, _ := mcpsession.Call(ctx, c, "fail", nil); !isErr || !strings.Contains(text, "failed as asked") {
		t.Errorf("fail = %q, %v", text, isErr)
	}
	if recs := e.records("tool_call"); len(recs) != 2 || recs[1].Error != "the tool returned an error" {
		t.Errorf("records after fail = %+v", recs)
	}
}

// TestRefusedAgent: a known agent not on the server's list is refused at
// the HTTP level, and the refusal is audited with its uid.
func TestRefusedAgent(t *testing.T) {
	e := newEnv(t)
	e.write(fmt.Sprintf(`
[[client]]
name = "lead"
uids = [4242421]

[[client]]
name = "intruder"
uids = [%d]

[[server]]
name = "tools"
listen = "127.0.0.1:0"
command = [{{BIN}}]
agents = ["lead"]
`, me))
	e.start(Options{})
	if _, _, err := callOnce(e.url("tools"), "echo", map[string]any{"text": "x"}); err == nil {
		t.Fatal("call as intruder succeeded")
	}
	if code, body := post(t, e.url("tools"), `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{}}}`); code != 403 || !strings.Contains(body, "refused: agent intruder is not allowed to use tools") {
		t.Errorf("raw POST: %d %s, want 403", code, body)
	}
	recs := e.records("refused")
	if len(recs) == 0 {
		t.Fatalf("no refused record:\n%s", e.auditText())
	}
	r := recs[0]
	if r.Decision != audit.Deny || r.Agent != "intruder" || r.UID == nil || *r.UID != uint32(me) || !strings.Contains(r.Reason, "not allowed to use tools") || r.Status != 403 {
		t.Errorf("record = %+v", r)
	}
	if n := len(e.records("tool_call")); n != 0 {
		t.Errorf("%d tool calls went through", n)
	}
}

// TestUnknownUIDRefused: a uid no [[client]] names is refused.
func TestUnknownUIDRefused(t *testing.T) {
	e := newEnv(t)
	e.write(`
[[client]]
name = "lead"
uids = [4242422]

[[server]]
name = "tools"
listen = "127.0.0.1:0"
command = [{{BIN}}]
agents = ["lead"]
`)
	e.start(Options{})
	if _, _, err := callOnce(e.url("tools"), "echo", nil); err == nil {
		t.Fatal("call by an unknown uid succeeded")
	}
	if code, _ := post(t, e.url("tools"), `{"jsonrpc":"2.0","id":1,"method":"ping"}`); code != 403 {
		t.Errorf("raw POST: %d, want 403", code)
	}
	if recs := e.records("refused"); len(recs) == 0 || !strings.Contains(recs[0].Reason, "is not a known agent") || recs[0].Agent != "" {
		t.Errorf("refused records = %+v", recs)
	}
}

// TestCrashedChildRestarts: a child that dies mid-call is restarted and the
// next call works.
func TestCrashedChildRestarts(t *testing.T) {
	e := newEnv(t)
	oneServer(e, "")
	d := e.start(Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := mcpsession.Open(ctx, e.url("tools"), "agent", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	first, _, err := mcpsession.Call(ctx, c, "whoami", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, isErr, err := mcpsession.Call(ctx, c, "crash", nil); err == nil && !isErr {
		t.Fatal("crash succeeded")
	}
	// The supervisor notices the exit and starts a new child; a call that
	// races it may still meet the dead one's closed transport.
	child := d.Relay("tools").Backend("lead").(*backend.Child)
	for deadline := time.Now().Add(10 * time.Second); child.Starts.Load() < 2 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	text, isErr, err := mcpsession.Call(ctx, c, "echo", map[string]any{"text": "back"})
	if err != nil || isErr || text != "back" {
		t.Fatalf("echo after crash = %q, %v, %v", text, isErr, err)
	}
	second, _, _ := mcpsession.Call(ctx, c, "whoami", nil)
	var w1, w2 testmcp.Who
	json.Unmarshal([]byte(first), &w1)
	json.Unmarshal([]byte(second), &w2)
	if w1.PID == 0 || w1.PID == w2.PID {
		t.Errorf("pid before %d, after %d: want a new process", w1.PID, w2.PID)
	}
	if n := d.Relay("tools").Backend("lead").(*backend.Child).Starts.Load(); n != 2 {
		t.Errorf("child started %d times, want 2", n)
	}
	recs := e.records("tool_call")
	if r := recs[1]; r.Path != "crash" || r.Error == "" {
		t.Errorf("crash record = %+v", r)
	}
}

// TestChildEnvironment: the child's environment is PATH, HOME, its own env
// table and its own secrets; nothing of sidecar's environment, nothing of
// another server's secrets. A file secret is in its directory, mode 0600.
func TestChildEnvironment(t *testing.T) {
	t.Setenv("SIDECAR_TEST_MARKER", "sidecar-own-environment")
	e := newEnv(t)
	e.secret("a_token", "a-secret-value-1")
	e.secret("a_json", `{"key":"a-file-secret"}`)
	e.secret("b_token", "b-secret-value-2")
	e.write(fmt.Sprintf(`
[[client]]
name = "lead"
uids = [%d]

[[server]]
name = "a"
listen = "127.0.0.1:0"
command = [{{BIN}}]
agents = ["lead"]
env = { PLAIN = "1" }

[[server.secret]]
name = "a_token"
env = "A_TOKEN"

[[server.secret]]
name = "a_json"
file = "creds/a.json"
env = "A_CREDENTIALS"

[[server]]
name = "b"
listen = "127.0.0.1:0"
command = [{{BIN}}]
agents = ["lead"]

[[server.secret]]
name = "b_token"
env = "B_TOKEN"
`, me))
	e.start(Options{})
	envText, _, err := callOnce(e.url("a"), "env", nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(e.dir, "children", "a", "shared")
	// The agent sees the variable but not its value: what a child says
	// back is scrubbed of the server's secrets. The hashes prove the child
	// holds the real values.
	want := []string{
		"A_CREDENTIALS=" + filepath.Join(dir, "creds", "a.json"),
		"A_TOKEN=[REDACTED:a_token]",
		"HOME=" + dir,
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"PLAIN=1",
	}
	if got := strings.Split(envText, "\n"); !slices.Equal(got, want) {
		t.Errorf("child a's environment:\n%s\nwant exactly:\n%s", envText, strings.Join(want, "\n"))
	}
	if strings.Contains(envText, "b-secret-value-2") || strings.Contains(envText, "sidecar-own-environment") {
		t.Error("child a sees another server's secret or sidecar's environment")
	}
	if h, _, err := callOnce(e.url("a"), "sha256", map[string]any{"env": "A_TOKEN"}); err != nil || h != sha("a-secret-value-1") {
		t.Errorf("child a's A_TOKEN hashes to %q (%v), want the secret's hash", h, err)
	}
	file, isErr, err := callOnce(e.url("a"), "read", map[string]any{"file": "creds/a.json"})
	if err != nil || isErr || file != "[REDACTED:a_json]" {
		t.Errorf("read file secret = %q, %v, %v; want it scrubbed", file, isErr, err)
	}
	if h, _, err := callOnce(e.url("a"), "sha256", map[string]any{"file": "creds/a.json"}); err != nil || h != sha(`{"key":"a-file-secret"}`) {
		t.Errorf("child a's file secret hashes to %q (%v), want the secret's hash", h, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "creds", "a.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file secret: %v, mode %v", err, fi.Mode())
	}
	envB, _, _ := callOnce(e.url("b"), "env", nil)
	if !strings.Contains(envB, "B_TOKEN=[REDACTED:b_token]") || strings.Contains(envB, "A_TOKEN") || strings.Contains(envB, "a-file-secret") {
		t.Errorf("child b's environment:\n%s", envB)
	}
	if h, _, _ := callOnce(e.url("b"), "sha256", map[string]any{"env": "B_TOKEN"}); h != sha("b-secret-value-2") {
		t.Errorf("child b's B_TOKEN hashes to %q, want the secret's hash", h)
	}
	if strings.Contains(e.auditText(), "secret-value") {
		t.Error("a secret reached the audit log")
	}
}

// TestUpstreamURL: a url server relays to an HTTP MCP server, with its
// secret in a header the agent never sees.
func TestUpstreamURL(t *testing.T) {
	var gotAuth []string
	h := server.NewStreamableHTTPServer(testmcp.New())
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = append(gotAuth, r.Header.Get("Authorization"))
		if r.Header.Get("Authorization") != "Bearer up-secret-3" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer up.Close()
	e := newEnv(t)
	e.secret("up_token", "up-secret-3")
	e.write(fmt.Sprintf(`
[[client]]
name = "lead"
uids = [%d]

[[server]]
name = "remote"
listen = "127.0.0.1:0"
url = "%s/mcp"
agents = ["lead"]

[[server.secret]]
name = "up_token"
header = "Authorization"
prefix = "Bearer "
`, me, up.URL))
	e.start(Options{})
	text, isErr, err := callOnce(e.url("remote"), "echo", map[string]any{"text": "via upstream"})
	if err != nil || isErr || text != "via upstream" {
		t.Fatalf("echo = %q, %v, %v", text, isErr, err)
	}
	if len(gotAuth) == 0 {
		t.Fatal("upstream saw no request")
	}
	if r := e.records("tool_call"); len(r) != 1 || r[0].Target != "remote" || r[0].Decision != audit.Allow {
		t.Errorf("records = %+v", r)
	}
}

// TestFraming: malformed JSON-RPC and batches from an allowed agent are
// answered with a JSON-RPC error before reaching the MCP server.
func TestFraming(t *testing.T) {
	e := newEnv(t)
	oneServer(e, "")
	e.start(Options{})
	for _, tc := range []struct{ name, body, want string }{
		{"not json", `{"jsonrpc":`, "-32700"},
		{"batch", `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, "batches are not supported"},
		{"fraction id", `{"jsonrpc":"2.0","id":1.5,"method":"ping"}`, "not an integer"},
		{"no version", `{"id":1,"method":"ping"}`, `must be`},
	} {
		if code, b := post(t, e.url("tools"), tc.body); code != 400 || !strings.Contains(b, tc.want) {
			t.Errorf("%s: %d %s, want 400 with %q", tc.name, code, b, tc.want)
		}
	}
}

// TestReload: a good config is put in force (new server, unchanged server
// keeps its child); a bad one is rejected and the old keeps serving.
func TestReload(t *testing.T) {
	e := newEnv(t)
	oneServer(e, "")
	d := e.start(Options{})
	if _, _, err := callOnce(e.url("tools"), "echo", map[string]any{"text": "1"}); err != nil {
		t.Fatal(err)
	}
	child := d.Relay("tools").Backend("lead").(*backend.Child)
	oneServer(e, `
[[server]]
name = "more"
listen = "127.0.0.1:0"
command = [{{BIN}}]
agents = ["lead", "other"]
`)
	if err := d.Reload(); err != nil {
		t.Fatalf("good reload: %v", err)
	}
	if text, _, err := callOnce(e.url("more"), "echo", map[string]any{"text": "new"}); err != nil || text != "new" {
		t.Errorf("new server: %q, %v", text, err)
	}
	if d.Relay("tools").Backend("lead") != backend.Backend(child) || child.Starts.Load() != 1 {
		t.Error("an unchanged server's child was restarted by the reload")
	}
	os.WriteFile(e.cfgPath, []byte("[[server]]\nname = \"tools\"\nlisten = \"0.0.0.0:1\"\n"), 0o600)
	if err := d.Reload(); err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Fatalf("bad reload: %v", err)
	}
	if text, _, err := callOnce(e.url("more"), "echo", map[string]any{"text": "still"}); err != nil || text != "still" {
		t.Errorf("after a rejected reload: %q, %v", text, err)
	}
	recs := e.records("reload")
	if len(recs) != 2 || recs[0].Decision != audit.Allow || recs[1].Decision != audit.Deny {
		t.Errorf("reload records = %+v", recs)
	}
	// Dropping the server closes its port.
	oneServer(e, "")
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if d.Addr("more") != "" {
		t.Error("a removed server still has a port")
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// post sends one raw JSON-RPC body and returns the status and body.
func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
