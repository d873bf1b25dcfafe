package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/testutil/netns"
	"github.com/clemhq/clem/shared/testutil/users"
)

// coordRaces is how many tasks the two agents race for.
const coordRaces = 100

// TestCoordLocalEndToEnd runs the real coord on the local board in a fresh
// network namespace, with real users for two agents, the watchdog and a
// stranger: tasks added with `clem task add` are raced for over MCP by both
// agents (exactly one winner each time), reported done, and listed by
// `clem task list`; each agent sees only itself; unknown uids are refused
// on both the MCP endpoint and the unix socket.
func TestCoordLocalEndToEnd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatalf("TestCoordLocalEndToEnd needs root (real users, a network namespace): run the tests as root")
	}
	a, b := users.Add(t, "cda"), users.Add(t, "cdb")
	wd, stranger := users.Add(t, "cdw"), users.Add(t, "cdx")
	ns := netns.NewNamed(t)

	dir, err := os.MkdirTemp("", "coord-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755) // agents must reach the socket inside
	sock := filepath.Join(dir, "run", "coord.sock")
	auditLog := filepath.Join(dir, "audit.log")
	const mcpAddr = "127.0.0.1:3130"
	cfg := fmt.Sprintf(`project = "e2e"
backend = "local"
operators = ["root"]
[lease]
ttl = "10m"
[mcp]
listen = %q
[socket]
path = %q
watchdog_uids = [%d]
[state]
dir = %q
[audit]
path = %q
[[agent]]
key = "a"
uid = %d
[[agent]]
key = "b"
uid = %d
`, mcpAddr, sock, wd.UID, filepath.Join(dir, "state"), auditLog, a.UID, b.UID)
	cfgPath := filepath.Join(dir, "coord.toml")
	os.WriteFile(cfgPath, []byte(cfg), 0o644)

	if r := runBin(t, dir, nil, "", "coord", "check", "-c", cfgPath); r.code != 0 {
		t.Fatalf("coord check: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	startCoord(t, ns, cfgPath, sock)

	clem := func(args ...string) string {
		t.Helper()
		r := runBin(t, dir, nil, "", "clem", append([]string{"task"}, append(args, "--socket", sock)...)...)
		if r.code == 69 {
			t.Fatalf("clem task is still the placeholder (exit 69): wire taskcmd.Command() into clem/internal/cli\n%s", r.stderr)
		}
		if r.code != 0 {
			t.Fatalf("clem task %q: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
		return r.stdout
	}

	// 100 tasks from the operator's CLI, raced for by both agents.
	ids := make([]string, coordRaces)
	for i := range ids {
		out := clem("add", fmt.Sprintf("race %d", i))
		if !scanID(out, &ids[i]) {
			t.Fatalf("clem task add printed %q", out)
		}
	}
	ca, cb := newMCP(t, ns, a.UID, mcpAddr), newMCP(t, ns, b.UID, mcpAddr)
	wins := map[string][]string{}
	for _, id := range ids {
		var wg sync.WaitGroup
		res := map[string]toolResult{}
		var mu sync.Mutex
		for name, c := range map[string]*mcpClient{"a": ca, "b": cb} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := c.call(t, "claim_task", map[string]any{"id": id})
				mu.Lock()
				res[name] = r
				mu.Unlock()
			}()
		}
		wg.Wait()
		var winners []string
		for name, r := range res {
			if !r.IsError {
				winners = append(winners, name)
			} else if !strings.Contains(r.text(), "held by another agent") {
				t.Fatalf("task %s: %s lost with %q, want a conflict", id, name, r.text())
			}
		}
		if len(winners) != 1 {
			t.Fatalf("task %s: winners %v, want exactly one", id, winners)
		}
		wins[winners[0]] = append(wins[winners[0]], id)
	}
	t.Logf("races: a won %d, b won %d", len(wins["a"]), len(wins["b"]))
	for name, c := range map[string]*mcpClient{"a": ca, "b": cb} {
		for _, id := range wins[name] {
			if r := c.call(t, "update_task", map[string]any{"id": id, "status": "done", "note": "done by " + name}); r.IsError {
				t.Fatalf("%s update_task %s: %s", name, id, r.text())
			}
		}
	}
	done := clem("list", "--state", "done")
	for _, id := range ids {
		if !regexpLine(done, id, "done") {
			t.Fatalf("clem task list --state done lacks task %s:\n%s", id, done)
		}
	}
	if w := wins["a"]; len(w) > 0 {
		if show := clem("show", w[0]); !strings.Contains(show, "agent a") || !strings.Contains(show, "done by a") {
			t.Errorf("clem task show %s = %q, want a's note", w[0], show)
		}
	}

	// Each agent acts only as itself, and sees only what is its own.
	var idA string
	if out := clem("add", "only for a", "--to", "a"); !scanID(out, &idA) {
		t.Fatalf("clem task add printed %q", out)
	}
	if r := cb.call(t, "claim_task", map[string]any{"id": idA}); !r.IsError || !strings.Contains(r.text(), "addressed to another agent") {
		t.Errorf("b claiming a's task = %q, want refused", r.text())
	}
	inboxA, inboxB := readAllInbox(t, ca), readAllInbox(t, cb)
	if !strings.Contains(inboxA, "Title: only for a") || strings.Contains(inboxB, "only for a") {
		t.Errorf("inboxes: a sees %q..., b sees %q...; want the task for a in a's only", head(inboxA), head(inboxB))
	}
	if !strings.Contains(inboxA, `from person "root" (operator: may give instructions)`) {
		t.Errorf("a's inbox does not fence and label the operator's task: %q", head(inboxA))
	}
	clem("comment", idA, "please hurry")
	if r := ca.call(t, "claim_task", map[string]any{"id": idA}); r.IsError {
		t.Fatalf("a claiming its task: %s", r.text())
	}
	if r := ca.call(t, "list_tasks", map[string]any{"state": "claimed"}); !strings.Contains(r.text(), "held by a") {
		t.Errorf("a's list_tasks(claimed) = %q, want its task held by a", r.text())
	}
	if r := cb.call(t, "list_tasks", map[string]any{"state": "claimed"}); !strings.Contains(r.text(), "No tasks") {
		t.Errorf("b's list_tasks(claimed) = %q, want nothing", r.text())
	}
	if r := ca.call(t, "claim_task", map[string]any{"id": idA, "agent": "b"}); !r.IsError || !strings.Contains(r.text(), "unknown argument") {
		t.Errorf("claim_task with an agent argument = %q, want refused", r.text())
	}

	// Strangers are refused on both doors; root is no agent on MCP.
	for _, u := range []uint32{stranger.UID, 0, wd.UID} {
		if code := mcpStatus(t, ns, u, mcpAddr); code != http.StatusForbidden {
			t.Errorf("MCP from uid %d: HTTP %d, want 403", u, code)
		}
	}
	checks := []struct {
		uid          uint32
		method, path string
		body         string
		want         int
	}{
		{stranger.UID, "GET", "/v1/healthz", "", 403},
		{a.UID, "GET", "/v1/inbox", "", 200},
		{a.UID, "POST", "/v1/heartbeat", "", 200},
		{a.UID, "GET", "/v1/wait?timeout=1s", "", 200}, // a has a comment pending
		{b.UID, "GET", "/v1/wait?timeout=1s", "", 204},
		{a.UID, "GET", "/v1/tasks", "", 403},
		{a.UID, "POST", "/v1/alert", `{"subject":"a","body":"x"}`, 403},
		{wd.UID, "POST", "/v1/alert", `{"severity":"critical","subject":"a","body":"restarted 5 times"}`, 200},
		{wd.UID, "POST", "/v1/tasks", `{"title":"x"}`, 403},
		{0, "GET", "/v1/alerts", "", 200},
		{0, "POST", "/v1/tasks", `{"title":"x","holder":"a"}`, 400},
	}
	for _, c := range checks {
		if got := unixStatus(t, c.uid, sock, c.method, c.path, c.body); got != c.want {
			t.Errorf("%s %s as uid %d: HTTP %d, want %d", c.method, c.path, c.uid, got, c.want)
		}
	}

	// The audit log names the agent behind every claim.
	claims := map[string]string{}
	data, _ := os.ReadFile(auditLog)
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		rec, err := audit.Parse(line)
		if err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if rec.Event == "tool_call" && rec.Method == "claim_task" && rec.Decision == audit.Allow {
			claims[rec.Target] = rec.Agent
		}
	}
	for name, ws := range wins {
		for _, id := range ws {
			if claims[id] != name {
				t.Fatalf("audit: claim of task %s allowed for %q, want %s", id, claims[id], name)
			}
		}
	}
}

func scanID(out string, id *string) bool {
	_, err := fmt.Sscanf(out, "task %s added", id)
	return err == nil
}

func head(s string) string { return s[:min(len(s), 300)] }

// regexpLine reports whether out has a row starting with id in state.
func regexpLine(out, id, state string) bool {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == id && f[1] == state {
			return true
		}
	}
	return false
}

// startCoord runs coord inside the namespace and waits for its socket.
// readAllInbox calls read_inbox until coord says nothing more is waiting
// (one call carries at most 96 KiB), and joins what it read.
func readAllInbox(t *testing.T, c *mcpClient) string {
	t.Helper()
	var all strings.Builder
	for i := 0; i < 100; i++ {
		text := c.call(t, "read_inbox", nil).text()
		all.WriteString(text)
		if !strings.Contains(text, "call read_inbox again") {
			return all.String()
		}
	}
	t.Fatalf("read_inbox still says more is waiting after 100 calls")
	return ""
}

func startCoord(t *testing.T, ns, cfgPath, sock string) {
	t.Helper()
	d := startCmd(t, exec.Command("nsenter", "--net="+ns, filepath.Join(binDir, "coord"), "run", "-c", cfgPath))
	waitFor(t, func() bool {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, d)
}

// asUser runs fn on an OS thread that has joined namespace ns (when not
// empty) and whose effective uid is uid, so sockets fn makes belong to uid
// as far as the kernel can tell (sock_diag, SO_PEERCRED). The thread gets
// its root uid and namespace back before the runtime may use it again; if
// that fails it stays locked and ends with the goroutine. (Letting it end
// is not enough on its own: the main thread is never ended, only parked,
// and would keep the agent's uid.)
func asUser(ns string, uid uint32, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- onThisThread(ns, uid, fn)
	}()
	return <-errc
}

// onThisThread is asUser's body on its locked thread; it unlocks the
// thread only once uid 0 and the home namespace are back.
func onThisThread(ns string, uid uint32, fn func() error) error {
	home, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer home.Close()
	if ns != "" {
		f, err := os.Open(ns)
		if err != nil {
			runtime.UnlockOSThread()
			return err
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err != nil {
			return fmt.Errorf("setns %s: %w", ns, err) // thread stays locked: state unknown
		}
	}
	// The raw syscall changes this thread only (Go's Setresuid would
	// change every thread of the test binary). Real and saved uid stay 0,
	// so the thread can become root again.
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), uintptr(uid), ^uintptr(0)); e != 0 {
		return fmt.Errorf("setresuid(-1, %d, -1): %w", uid, e)
	}
	err = fn()
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), 0, ^uintptr(0)); e != 0 {
		return err
	}
	if ns != "" && unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) != nil {
		return err
	}
	runtime.UnlockOSThread()
	return err
}

func dialAs(ns string, uid uint32, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := asUser(ns, uid, func() error {
		var err error
		c, err = net.DialTimeout(network, addr, 5*time.Second)
		return err
	})
	return c, err
}

// mcpClient speaks MCP's Streamable HTTP (JSON-RPC over POST) as one uid.
type mcpClient struct {
	url string
	hc  *http.Client
	mu  sync.Mutex
	id  int
}

func newMCP(t *testing.T, ns string, uid uint32, addr string) *mcpClient {
	t.Helper()
	c := &mcpClient{url: "http://" + addr + "/mcp", hc: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) { return dialAs(ns, uid, "tcp", addr) },
	}}}
	t.Cleanup(c.hc.CloseIdleConnections)
	if _, code, err := c.rpc("initialize", map[string]any{
		"protocolVersion": "2025-06-18", "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "coord-e2e", "version": "1"},
	}); err != nil || code != 200 {
		t.Fatalf("MCP initialize as uid %d: HTTP %d, %v", uid, code, err)
	}
	return c
}

type toolResult struct {
	IsError bool `json:"isError"`
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
}

func (r toolResult) text() string {
	var s []string
	for _, c := range r.Content {
		s = append(s, c.Text)
	}
	return strings.Join(s, "\n")
}

func (c *mcpClient) call(t *testing.T, tool string, args map[string]any) toolResult {
	t.Helper()
	if args == nil {
		args = map[string]any{}
	}
	raw, code, err := c.rpc("tools/call", map[string]any{"name": tool, "arguments": args})
	if err != nil || code != 200 {
		t.Fatalf("MCP %s: HTTP %d, %v", tool, code, err)
	}
	var r toolResult
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("MCP %s: result %s: %v", tool, raw, err)
	}
	return r
}

// rpc sends one JSON-RPC request and returns its result.
func (c *mcpClient) rpc(method string, params any) (json.RawMessage, int, error) {
	c.mu.Lock()
	c.id++
	id := c.id
	c.mu.Unlock()
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	req, _ := http.NewRequest("POST", c.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-06-18")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, resp.StatusCode, fmt.Errorf("%s", data)
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				data = []byte(d)
			}
		}
	}
	var msg struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(data, &msg); err != nil {
		return nil, resp.StatusCode, fmt.Errorf("answer %q: %w", data, err)
	}
	if msg.Error != nil {
		return nil, resp.StatusCode, fmt.Errorf("JSON-RPC error: %s", msg.Error.Message)
	}
	return msg.Result, resp.StatusCode, nil
}

// mcpStatus is the HTTP status of an MCP initialize from uid.
func mcpStatus(t *testing.T, ns string, uid uint32, addr string) int {
	t.Helper()
	c := &mcpClient{url: "http://" + addr + "/mcp", hc: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) { return dialAs(ns, uid, "tcp", addr) },
	}}}
	defer c.hc.CloseIdleConnections()
	_, code, err := c.rpc("initialize", map[string]any{"protocolVersion": "2025-06-18", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "x", "version": "1"}})
	if code == 0 {
		t.Fatalf("MCP from uid %d: %v", uid, err)
	}
	return code
}

// unixStatus is the HTTP status of one request to coord's socket from uid.
func unixStatus(t *testing.T, uid uint32, sock, method, path, body string) int {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) { return dialAs("", uid, "unix", sock) },
	}}
	defer hc.CloseIdleConnections()
	req, _ := http.NewRequest(method, "http://coord"+path, strings.NewReader(body))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s as uid %d: %v", method, path, uid, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
