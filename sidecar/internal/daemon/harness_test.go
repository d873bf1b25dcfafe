package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/testutil/mcpsession"
	"github.com/clemhq/clem/sidecar/internal/testmcp"
)

// Re-exec modes of this test binary: a stdio MCP server (the child under
// test) and an MCP call made by a real agent user.
const (
	modeServe = "__sidecar_test_mcp_server__"
	modeCall  = "__sidecar_test_mcp_call__"
	// modeExit is a child that exits at once: a server whose supervisor
	// restarts it forever.
	modeExit = "__sidecar_test_exit__"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case modeServe:
			os.Exit(testmcp.ServeStdio())
		case modeCall:
			os.Exit(callMode(os.Args[2:]))
		case modeFlood:
			os.Exit(floodMode(os.Args[2:]))
		case modeSessions:
			os.Exit(sessionsMode(os.Args[2:]))
		case modeExit:
			fmt.Fprintln(os.Stderr, "exiting at once, as asked")
			os.Exit(1)
		}
	}
	// A test that leaves a port, relay, child supervisor or admin socket
	// running fails here.
	goleak.VerifyTestMain(m)
}

// callMode: URL TOOL ARGS-JSON; prints the tool's text, or the error on
// stderr with exit 1.
func callMode(args []string) int {
	if len(args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: URL TOOL ARGS-JSON")
		return 2
	}
	var a map[string]any
	json.Unmarshal([]byte(args[2]), &a)
	text, isErr, err := callOnce(args[0], args[1], a)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if isErr {
		fmt.Fprintln(os.Stderr, "tool error:", text)
		return 3
	}
	fmt.Print(text)
	return 0
}

// callOnce opens an MCP session with url, calls tool and returns the text
// of its result.
func callOnce(url, tool string, args map[string]any) (string, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := mcpsession.Open(ctx, url, "agent", nil)
	if err != nil {
		return "", false, err
	}
	defer c.Close()
	return mcpsession.Call(ctx, c, tool, args)
}

// env is one test's sidecar: config, secrets, audit file.
type env struct {
	t       *testing.T
	dir     string
	secrets string
	cfgPath string
	audit   string
	bin     string
	d       *Daemon
	// limits, when set, is written as the [limits] table.
	limits string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, dir: dir, secrets: filepath.Join(dir, "creds"), cfgPath: filepath.Join(dir, "sidecar.toml"), audit: filepath.Join(dir, "audit.jsonl")}
	os.Mkdir(e.secrets, 0o700)
	self, _ := os.Executable()
	e.bin = self
	return e
}

func (e *env) secret(name, value string) {
	if err := os.WriteFile(filepath.Join(e.secrets, name), []byte(value+"\n"), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// write writes the config: head is prepended with the [audit], [secrets]
// and [children] tables; {{BIN}} is the test MCP server command.
func (e *env) write(body string) {
	src := fmt.Sprintf("[audit]\npath = %q\n[secrets]\ndir = %q\n[children]\ndir = %q\n[limits]\n%s\n\n", e.audit, e.secrets, filepath.Join(e.dir, "children"), e.limits) +
		strings.ReplaceAll(body, "{{BIN}}", fmt.Sprintf("%q, %q", e.bin, modeServe))
	if err := os.WriteFile(e.cfgPath, []byte(src), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) start(o Options) *Daemon {
	e.t.Helper()
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(testWriter{e.t}, nil))
	}
	d, err := Start(e.cfgPath, o)
	if err != nil {
		e.t.Fatalf("Start: %v", err)
	}
	e.t.Cleanup(d.Close)
	e.d = d
	return d
}

func (e *env) url(server string) string { return "http://" + e.d.Addr(server) + "/mcp" }

// records returns the audit records written so far with the given event.
func (e *env) records(event string) []audit.Record {
	e.t.Helper()
	b, err := os.ReadFile(e.audit)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []audit.Record
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		r, err := audit.Parse(sc.Bytes())
		if err != nil {
			e.t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		if r.Event == event {
			out = append(out, r)
		}
	}
	return out
}

func (e *env) auditText() string {
	b, _ := os.ReadFile(e.audit)
	return string(b)
}

// testWriter sends log lines to t.Log (after the test ends, nowhere).
type testWriter struct{ t *testing.T }

var logMu sync.Mutex

func (w testWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	defer func() { recover() }() // a child's last stderr line may arrive after the test
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
