package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/peer"
	"github.com/clemhq/clem/shared/testutil/mcpsession"
	"github.com/clemhq/clem/shared/testutil/netns"
	"github.com/clemhq/clem/shared/testutil/users"
	"github.com/clemhq/clem/sidecar/internal/relay"
)

// Re-exec modes for the floods, run as an agent's user.
const (
	modeFlood    = "__sidecar_test_flood__"
	modeSessions = "__sidecar_test_sessions__"
)

// floodMode: ADDR N. Opens N connections that each send the start of a
// request and never finish it, then one more that asks for a page: once
// that one is answered, sidecar has accepted (or refused) every earlier
// one, in order. Prints "held=H refused=R" (refused ones were answered and
// closed) and holds the rest until stdin closes.
func floodMode(args []string) int {
	var n int
	fmt.Sscan(args[1], &n)
	var conns []net.Conn
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", args[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, "dial:", err)
			return 1
		}
		c.Write([]byte("POST /mcp HTTP/1.1\r\n"))
		conns = append(conns, c)
	}
	probe, err := net.Dial("tcp", args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		return 1
	}
	probe.Write([]byte("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"))
	probe.SetReadDeadline(time.Now().Add(30 * time.Second)) // a bound on a broken sidecar, not a wait
	if _, err := bufio.NewReader(probe).ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, "the probe got no answer:", err)
		return 1
	}
	// A refused connection's answer is in its receive queue by now.
	held, refused := 0, 0
	for _, c := range conns {
		if readable(c) {
			refused++
		} else {
			held++
		}
	}
	fmt.Printf("held=%d refused=%d\n", held, refused)
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// readable reports whether c has bytes or an end waiting, without waiting.
func readable(c net.Conn) bool {
	rc, _ := c.(*net.TCPConn).SyscallConn()
	var n int
	var err error
	buf := make([]byte, 1)
	rc.Read(func(fd uintptr) bool {
		n, _, err = unix.Recvfrom(int(fd), buf, unix.MSG_PEEK|unix.MSG_DONTWAIT)
		return true
	})
	return err == nil || !errors.Is(err, unix.EAGAIN) || n > 0
}

// sessionsMode: URL N. Initializes N MCP sessions, never ending them, and
// prints how many were accepted.
func sessionsMode(args []string) int {
	var n int
	fmt.Sscan(args[1], &n)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ok := 0
	for i := 0; i < n; i++ {
		if _, err := mcpsession.Open(ctx, args[0], "agent", nil); err == nil {
			ok++
		}
	}
	fmt.Printf("accepted=%d\n", ok)
	return 0
}

// TestFloodsInANamespace: in a fresh network namespace, agent alice floods
// a sidecar port shared with agent bob, first with idle connections, then
// with MCP sessions; bob's tool call succeeds through both, and alice's
// floods are refused past her share and audited once each (first refusal,
// then a summary with the count). The control serves the same flood with
// per-uid caps equal to the totals (no share kept for anyone else): there
// bob is starved, which is what the per-uid caps prevent.
func TestFloodsInANamespace(t *testing.T) {
	alice, bob := users.Add(t, "scfa"), users.Add(t, "scfb")
	path := netns.NewNamed(t)
	inNS := func(fn func()) { netns.In(t, path, fn) }
	var res *peer.Resolver
	var err error
	inNS(func() { res, err = peer.NewResolver() })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Close() })
	bin := users.ExportTestBinary(t)
	opts := Options{
		Identify: func(l, r netip.AddrPort) (uint32, error) { uid, _, err := res.TCPPeerUIDAddr(l, r); return uid, err },
		Listen: func(addr string) (ln net.Listener, err error) {
			inNS(func() { ln, err = net.Listen("tcp", addr) })
			return ln, err
		},
	}
	run := func(u users.User, stdin io.Reader, args ...string) (string, int) {
		var out []byte
		var code int
		inNS(func() {
			cmd := exec.Command(bin, args...)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID}}
			cmd.Env, cmd.Dir, cmd.Stdin = []string{"PATH=/usr/bin:/bin", "HOME=/"}, "/", stdin
			out, err = cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); ok {
				code, err = ee.ExitCode(), nil
			}
		})
		if err != nil {
			t.Fatalf("%s as %s: %v", args[0], u.Name, err)
		}
		return string(out), code
	}
	// flood starts alice's connection flood and returns its report once it
	// holds what it could, and a function that ends it.
	flood := func(addr string, n int) (string, func()) {
		pr, pw := io.Pipe()
		stdin, stop := io.Pipe()
		var cmd *exec.Cmd
		inNS(func() {
			cmd = exec.Command(bin, modeFlood, addr, fmt.Sprint(n))
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: alice.UID, Gid: alice.GID}}
			cmd.Env, cmd.Dir, cmd.Stdin, cmd.Stdout, cmd.Stderr = []string{"PATH=/usr/bin:/bin", "HOME=/"}, "/", stdin, pw, os.Stderr
			err = cmd.Start()
		})
		if err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(pr).ReadString('\n')
		return strings.TrimSpace(line), func() { stop.Close(); cmd.Wait(); pw.Close() }
	}
	start := func(limits string) *env {
		e := newEnv(t)
		e.bin = bin
		e.limits = limits
		e.write(fmt.Sprintf(`
[[client]]
name = "alice"
uids = [%d]

[[client]]
name = "bob"
uids = [%d]

[[server]]
name = "db"
listen = "127.0.0.1:0"
command = [{{BIN}}]
agents = ["alice", "bob"]
`, alice.UID, bob.UID))
		e.start(opts)
		return e
	}
	bobCall := func(e *env) (string, int) {
		a, _ := json.Marshal(map[string]any{"text": "bob works"})
		return run(bob, nil, modeCall, e.url("db"), "echo", string(a))
	}

	for _, tc := range []struct {
		name    string
		limits  string
		starved bool
	}{
		{"per-uid caps", "max_conns_per_uid = 8\nmax_conns = 64\nmax_sessions_per_uid = 4\nmax_sessions = 32", false},
		{"control: no share left for others", "max_conns_per_uid = 8\nmax_conns = 8\nmax_sessions_per_uid = 4\nmax_sessions = 4", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := start(tc.limits)
			if out, code := bobCall(e); code != 0 || out != "bob works" {
				t.Fatalf("bob before any flood: exit %d: %s", code, out)
			}
			// Sessions first: alice opens 40, keeps them.
			out, _ := run(alice, nil, modeSessions, e.url("db"), "40")
			if strings.TrimSpace(out) != "accepted=4" {
				t.Errorf("alice's session flood: %q, want accepted=4", out)
			}
			out, code := bobCall(e)
			if starved := code != 0; starved != tc.starved {
				t.Errorf("bob during alice's session flood: exit %d: %s (starved %v, want %v)", code, out, starved, tc.starved)
			}
			// Then idle connections: 200 of them.
			report, stop := flood(e.d.Addr("db"), 200)
			var held, refused int
			fmt.Sscanf(report, "held=%d refused=%d", &held, &refused)
			if held > 8 || refused < 192 {
				t.Errorf("alice's connection flood: %q, want at most 8 held and the rest refused", report)
			}
			out, code = bobCall(e)
			if starved := code != 0; starved != tc.starved {
				t.Errorf("bob during alice's connection flood: exit %d: %s (starved %v, want %v)", code, out, starved, tc.starved)
			}
			stop()
			if tc.starved {
				return
			}
			e.d.Close() // ends the floods' windows: their summaries are written
			var conns, sessions []audit.Record
			for _, r := range append(e.records(relay.EventConnRefused), e.records(relay.EventRefused)...) {
				if r.UID == nil || *r.UID != alice.UID {
					continue
				}
				switch r.Rule {
				case relay.RuleConnsPerUID:
					conns = append(conns, r)
				case relay.RuleSessionsPerUID:
					sessions = append(sessions, r)
				}
			}
			if len(conns) != 2 || conns[0].Agent != "alice" || conns[0].Count != 0 || conns[1].Count < 191 {
				t.Errorf("alice's connection refusals = %+v, want the first and one summary counting the rest", conns)
			}
			if len(sessions) != 2 || sessions[0].Agent != "alice" || sessions[1].Count != 35 {
				t.Errorf("alice's session refusals = %+v, want the first and one summary counting 35 more", sessions)
			}
		})
	}
}
