package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/testutil/mcpsession"
	"github.com/clemhq/clem/shared/testutil/netns"
	"github.com/clemhq/clem/shared/testutil/users"
)

// modeTool is the test binary run as an agent's user: URL TOOL ARGS-JSON
// makes one MCP session as Claude Code opens it (initialize, then one
// tools/call) and prints "ok" or "error" on the first line and the tool's
// text after it.
const modeTool = "coord-test-tool"

func toolMode(args []string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var arguments map[string]any
	if err := json.Unmarshal([]byte(args[2]), &arguments); err != nil {
		fmt.Fprintln(os.Stderr, "arguments:", err)
		return 2
	}
	c, err := mcpsession.Open(ctx, args[0], "agent", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	text, isError, err := mcpsession.Call(ctx, c, args[1], arguments)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if isError {
		fmt.Println("error")
	} else {
		fmt.Println("ok")
	}
	if text != "" {
		fmt.Println(text)
	}
	return 0
}

// agent is a real user calling coord's MCP endpoint from inside coord's
// network namespace, so sock_diag names it as the kernel sees it.
type agent struct {
	t   *testing.T
	key string
	u   users.User
	bin string // the test binary, where u can run it
	ns  string
	url string
}

// call makes one tools/call as the agent; it fails the test when the
// call does not complete (no answer, a transport error).
func (a *agent) call(tool string, args map[string]any) (text string, toolErr bool) {
	a.t.Helper()
	data, _ := json.Marshal(args)
	cmd := exec.Command(a.bin, modeTool, a.url, tool, string(data))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: a.u.UID, Gid: a.u.GID}}
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/"}
	cmd.Dir = "/"
	var stderr strings.Builder
	cmd.Stderr = &stderr
	var out []byte
	var err error
	netns.In(a.t, a.ns, func() { out, err = cmd.Output() })
	if err != nil {
		a.t.Fatalf("agent %s: %s %s: %v: %s", a.key, tool, data, err, stderr.String())
	}
	status, text, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(text), status == "error"
}
