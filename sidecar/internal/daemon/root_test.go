package daemon

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/peer"
	"github.com/clemhq/clem/shared/testutil/netns"
	"github.com/clemhq/clem/shared/testutil/users"
	"github.com/clemhq/clem/sidecar/internal/testmcp"
)

// TestRealUsersInANamespace: in a fresh network namespace, real agent users
// call sidecar from their own processes. The allowed agent gets its answer;
// another is refused and audited with its own uid; per-agent identity gives
// each agent its own child, so state never crosses agents.
func TestRealUsersInANamespace(t *testing.T) {
	alice, bob, carol := users.Add(t, "scra"), users.Add(t, "scrb"), users.Add(t, "scrc")
	// Listeners, the kernel lookups and the agents' processes are made
	// inside a fresh namespace; the daemon's own goroutines run anywhere.
	path := netns.NewNamed(t)
	inNS := func(fn func()) { netns.In(t, path, fn) }
	var res *peer.Resolver
	var err error
	inNS(func() { res, err = peer.NewResolver() })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Close() })

	e := newEnv(t)
	e.bin = users.ExportTestBinary(t)
	e.secret("tool_key", "key-for-children-9d2b")
	e.write(fmt.Sprintf(`
[[client]]
name = "alice"
uids = [%d]

[[client]]
name = "bob"
uids = [%d]

[[client]]
name = "carol"
uids = [%d]

[[server]]
name = "tools"
listen = "127.0.0.1:0"
command = [{{BIN}}]
agents = ["alice"]

[[server.secret]]
name = "tool_key"
env = "TOOL_KEY"

[[server]]
name = "per"
listen = "127.0.0.1:0"
command = [{{BIN}}]
identity = "per-agent"
agents = ["alice", "carol"]
`, alice.UID, bob.UID, carol.UID))
	e.start(Options{
		Identify: func(l, r netip.AddrPort) (uint32, error) { uid, _, err := res.TCPPeerUIDAddr(l, r); return uid, err },
		Listen: func(addr string) (ln net.Listener, err error) {
			inNS(func() { ln, err = net.Listen("tcp", addr) })
			return ln, err
		},
	})
	as := func(u users.User, server, tool string, args map[string]any) (string, int) {
		a, _ := json.Marshal(args)
		var out []byte
		var code int
		inNS(func() {
			cmd := exec.Command(e.bin, modeCall, e.url(server), tool, string(a))
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID}}
			cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/"}
			cmd.Dir = "/"
			out, err = cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); ok {
				code, err = ee.ExitCode(), nil
			}
		})
		if err != nil {
			t.Fatalf("call as %s: %v", u.Name, err)
		}
		return string(out), code
	}

	out, code := as(alice, "tools", "env", nil)
	if code != 0 || !strings.Contains(out, "TOOL_KEY=[REDACTED:tool_key]") {
		t.Errorf("alice: exit %d: %q, want the child's environment with its key scrubbed", code, out)
	}
	if out, _ := as(alice, "tools", "sha256", map[string]any{"env": "TOOL_KEY"}); out != sha("key-for-children-9d2b") {
		t.Errorf("alice: the child's TOOL_KEY hashes to %q, want the key's hash", out)
	}
	if r := e.records("tool_call"); len(r) != 2 || r[0].Agent != "alice" || *r[0].UID != alice.UID || r[0].Decision != audit.Allow {
		t.Errorf("alice's records = %+v", r)
	}
	out, code = as(bob, "tools", "echo", map[string]any{"text": "let me in"})
	if code == 0 || strings.Contains(out, "let me in") {
		t.Errorf("bob: exit %d: %q, want a refusal", code, out)
	}
	var bobs []audit.Record
	for _, r := range e.records("refused") {
		if r.UID != nil && *r.UID == bob.UID {
			bobs = append(bobs, r)
		}
	}
	if len(bobs) == 0 || bobs[0].Agent != "bob" || bobs[0].Decision != audit.Deny || !strings.Contains(bobs[0].Reason, "bob is not allowed to use tools") {
		t.Errorf("bob's refusals = %+v\n%s", bobs, e.auditText())
	}
	if n := len(e.records("tool_call")); n != 2 {
		t.Errorf("%d tool calls audited, want alice's two", n)
	}

	// Per-agent: alice's counter and carol's are separate processes.
	for i, want := range []string{"1", "2"} {
		if out, code := as(alice, "per", "count", nil); code != 0 || out != want {
			t.Errorf("alice count #%d = %q (exit %d), want %s", i+1, out, code, want)
		}
	}
	if out, code := as(carol, "per", "count", nil); code != 0 || out != "1" {
		t.Errorf("carol count = %q (exit %d), want 1: state crossed agents", out, code)
	}
	wa, _ := as(alice, "per", "whoami", nil)
	wc, _ := as(carol, "per", "whoami", nil)
	var a, c testmcp.Who
	json.Unmarshal([]byte(wa), &a)
	json.Unmarshal([]byte(wc), &c)
	if a.PID == 0 || a.PID == c.PID || a.Dir == c.Dir {
		t.Errorf("alice's child %+v, carol's %+v: want two processes in two directories", a, c)
	}
	// bob may not use per at all, shared or not.
	if _, code := as(bob, "per", "count", nil); code == 0 {
		t.Error("bob reached the per-agent server")
	}
	// The agents' side holds no trace of the key: not in their calls'
	// output beyond the env tool, not in the audit log.
	if strings.Contains(e.auditText(), "key-for-children-9d2b") {
		t.Error("the key reached the audit log")
	}
}
