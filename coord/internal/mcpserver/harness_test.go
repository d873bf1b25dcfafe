package mcpserver

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/clemhq/clem/coord/internal/admit"
	"github.com/clemhq/clem/coord/internal/backend/local"
	"github.com/clemhq/clem/coord/internal/config"
	"github.com/clemhq/clem/coord/internal/core"
	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/connlimit"
	"github.com/clemhq/clem/shared/peer"
	"github.com/clemhq/clem/shared/testutil/mcpsession"
	"github.com/clemhq/clem/shared/testutil/netns"
	"github.com/clemhq/clem/shared/testutil/users"
)

// Modes of the test binary when a test re-executes it as an agent's user.
const (
	modeCall    = "coord-test-call"    // URL N: N list_tasks calls, each on a new connection
	modeFlood   = "coord-test-flood"   // ADDR N: hold N idle and slow connections until stdin closes
	modeBigPost = "coord-test-bigpost" // ADDR chunked|declared SIZE: POST a SIZE-byte body, print the status
	modePost    = "coord-test-post"    // URL N: N post_message calls, one line each: ok or the tool error
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case modeCall:
			os.Exit(callMode(os.Args[2:]))
		case modeFlood:
			os.Exit(floodMode(os.Args[2:]))
		case modeBigPost:
			os.Exit(bigPostMode(os.Args[2:]))
		case modePost:
			os.Exit(postMode(os.Args[2:]))
		}
	}
	// Leak check only in the test process itself, not in the modes above
	// (they exit on their own).
	goleak.VerifyTestMain(m)
}

func callMode(args []string) int {
	n, _ := strconv.Atoi(args[1])
	for i := range n {
		if err := callOnce(args[0]); err != nil {
			fmt.Fprintf(os.Stderr, "call %d of %d: %v\n", i+1, n, err)
			return 1
		}
	}
	fmt.Printf("ok %d\n", n)
	return 0
}

func postMode(args []string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := mcpsession.Open(ctx, args[0], "agent", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	n, _ := strconv.Atoi(args[1])
	for i := range n {
		text, isError, err := mcpsession.Call(ctx, c, toolPost, map[string]any{"body": fmt.Sprintf("post %d", i)})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if isError {
			fmt.Println("error: " + strings.ReplaceAll(text, "\n", " "))
		} else {
			fmt.Println("ok")
		}
	}
	return 0
}

// callOnce is one MCP session as Claude Code opens it, on a connection of
// its own: initialize, then list_tasks.
func callOnce(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	c, err := mcpsession.Open(ctx, url, "agent", hc)
	if err != nil {
		return err
	}
	defer c.Close()
	text, isError, err := mcpsession.Call(ctx, c, toolList, nil)
	if err != nil {
		return err
	}
	if isError {
		return fmt.Errorf("list_tasks: tool error: %s", text)
	}
	return nil
}

// floodMode holds N connections: even ones idle (nothing sent), odd ones
// slow (half a request header), then says "ready" and waits for stdin to
// close.
func floodMode(args []string) int {
	n, _ := strconv.Atoi(args[1])
	var conns []net.Conn
	for i := range n {
		c, err := net.Dial("tcp", args[0])
		if err != nil {
			fmt.Fprintf(os.Stderr, "dial %d: %v\n", i, err)
			return 1
		}
		if i%2 == 1 {
			fmt.Fprintf(c, "POST /mcp HTTP/1.1\r\nHost: %s\r\nX-Slow: ", args[0])
		}
		conns = append(conns, c)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
	return 0
}

// bigPostMode: ADDR declared|chunked SIZE; prints the status of postBig.
func bigPostMode(args []string) int {
	size, _ := strconv.ParseInt(args[2], 10, 64)
	status, err := postBig(args[0], args[1], size)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(status)
	return 0
}

// postBig sends one POST with a size-byte body, declared (Content-Length)
// or chunked, and returns the answer's status code. It writes the body
// while it waits for the answer: a server that answers early ends the
// upload.
func postBig(addr, how string, size int64) (int, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	hdr := "POST /mcp HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
	if how == "declared" {
		hdr += "Content-Length: " + strconv.FormatInt(size, 10) + "\r\n\r\n"
	} else {
		hdr += "Transfer-Encoding: chunked\r\n\r\n"
	}
	go func() {
		w := bufio.NewWriterSize(c, 64<<10)
		w.WriteString(hdr)
		chunk := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"post_message","arguments":{"body":"` +
			strings.Repeat("A", 32<<10))
		for sent := int64(0); sent < size; sent += int64(len(chunk)) {
			part := chunk[:min(int64(len(chunk)), size-sent)]
			var err error
			if how == "declared" {
				_, err = w.Write(part)
			} else {
				_, err = fmt.Fprintf(w, "%x\r\n%s\r\n", len(part), part)
			}
			if err != nil {
				return // the server answered and closed
			}
		}
		if how != "declared" {
			w.WriteString("0\r\n\r\n")
		}
		w.Flush()
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, nil
}

// countingListener counts the bytes coord reads from every connection.
type countingListener struct {
	net.Listener
	read *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.read}, nil
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// harness is coord's MCP endpoint in a fresh network namespace, with two
// real agent users, alice and bob, a local board and an audit file.
type harness struct {
	t          *testing.T
	alice, bob users.User
	ns, bin    string
	addr       string
	read       atomic.Int64 // bytes coord read from its connections
	refusals   chan admit.Refusal
	auditPath  string
	lim        *connlimit.Limiter
	cfg        *config.Config
}

func newHarness(t *testing.T, lim *connlimit.Limiter) *harness {
	t.Helper()
	h := &harness{t: t, alice: users.Add(t, "cma"), bob: users.Add(t, "cmb"), lim: lim, refusals: make(chan admit.Refusal, 1024)}
	h.bin = users.ExportTestBinary(t)
	h.ns = netns.NewNamed(t)
	var res *peer.Resolver
	var err error
	netns.In(t, h.ns, func() { res, err = peer.NewResolver() })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Close() })
	who := func(c net.Conn) (uint32, error) { uid, _, err := res.TCPPeerUID(c); return uid, err }

	dir := t.TempDir()
	h.auditPath = filepath.Join(dir, "audit.log")
	h.cfg, err = config.Parse("coord.toml", []byte(fmt.Sprintf(`project = "t"
operators = ["root"]
[mcp]
listen = "127.0.0.1:3130"
[socket]
path = "%s/c.sock"
[state]
dir = "%s"
[limits]
writes_per_hour = 3
[[agent]]
key = "alice"
uid = %d
[[agent]]
key = "bob"
uid = %d
`, dir, dir, h.alice.UID, h.bob.UID)))
	if err != nil {
		t.Fatal(err)
	}
	be, err := local.Open(filepath.Join(dir, local.FileName), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close() })
	c, err := core.New(h.cfg, be, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	aw, err := audit.Open(h.auditPath, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { aw.Close() })

	var ln net.Listener
	netns.In(t, h.ns, func() { ln, err = net.Listen("tcp", "127.0.0.1:0") })
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	guarded := admit.New(countingListener{ln, &h.read}, lim, who, func(r admit.Refusal) {
		select {
		case h.refusals <- r:
		default:
		}
	})
	s := New(c, aw, Options{PeerUID: who})
	go s.Serve(guarded)
	t.Cleanup(func() { s.http.Close() })
	return h
}

// as runs the test binary in mode as u inside the namespace, waiting for
// it; it returns stdout and the exit code.
func (h *harness) as(u users.User, args ...string) (string, int) {
	h.t.Helper()
	var out []byte
	var err error
	netns.In(h.t, h.ns, func() {
		out, err = h.cmd(u, args...).Output()
	})
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
		out = append(out, ee.Stderr...)
	} else if err != nil {
		h.t.Fatalf("run %v as %s: %v", args, u.Name, err)
	}
	return string(out), code
}

func (h *harness) cmd(u users.User, args ...string) *exec.Cmd {
	cmd := exec.Command(h.bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID}}
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/"}
	cmd.Dir = "/"
	return cmd
}

// records returns the audit records of event.
func (h *harness) records(event string) []audit.Record {
	h.t.Helper()
	data, err := os.ReadFile(h.auditPath)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []audit.Record
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		r, err := audit.Parse([]byte(line))
		if err != nil {
			h.t.Fatalf("audit line %q: %v", line, err)
		}
		if r.Event == event {
			out = append(out, r)
		}
	}
	return out
}

func (h *harness) url() string { return "http://" + h.addr + Path }
