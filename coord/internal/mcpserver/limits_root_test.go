package mcpserver

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/server"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/connlimit"
	"github.com/clemhq/clem/shared/testutil/netns"
)

// hugeBody is the attack's size: far over mcp.max_body_bytes, and large
// enough that reading it whole would show.
const hugeBody = 64<<20 + 1

// TestBodyTooLargeRefusedUnread is issue 15's item 4 on coord: an agent
// POSTs a 64 MiB body to the MCP endpoint, with its length declared and
// chunked. coord answers 413, audits a refusal naming the agent, and reads
// at most a bounded part of the body (counted at coord's sockets, not
// timed). The control serves the same POST with the MCP library alone,
// as coord did before, and it reads all of it.
func TestBodyTooLargeRefusedUnread(t *testing.T) {
	h := newHarness(t, connlimit.New(32, 512))
	limit := int64(h.cfg.MCP.MaxBodyBytes)
	for _, how := range []string{"declared", "chunked"} {
		t.Run(how, func(t *testing.T) {
			h.read.Store(0)
			before := len(h.records("mcp_request"))
			out, code := h.as(h.alice, modeBigPost, h.addr, how, strconv.Itoa(hugeBody))
			if code != 0 || strings.TrimSpace(out) != "413" {
				t.Fatalf("big POST as alice: exit %d, %q; want status 413", code, out)
			}
			// What coord may read: the header, at most the limit, and
			// what net/http drains before closing (256 KiB).
			if got, most := h.read.Load(), limit+(256<<10)+(64<<10); got > most {
				t.Errorf("coord read %d bytes of a %d-byte POST, want at most %d", got, hugeBody, most)
			}
			recs := h.records("mcp_request")[before:]
			if len(recs) != 1 {
				t.Fatalf("%d mcp_request records, want 1: %+v", len(recs), recs)
			}
			r := recs[0]
			if r.Decision != audit.Deny || r.Status != http.StatusRequestEntityTooLarge || r.Agent != "alice" ||
				r.UID == nil || *r.UID != h.alice.UID || r.Rule != "mcp.max_body_bytes" || !strings.Contains(r.Reason, "over") {
				t.Errorf("refusal record = %+v, want deny 413 for alice under mcp.max_body_bytes", r)
			}
		})
	}
	// A body within the limit still reaches the tool: the limit refuses
	// size, not use.
	if out, code := h.as(h.alice, modeCall, h.url(), "1"); code != 0 {
		t.Errorf("alice's ordinary call: exit %d: %s", code, out)
	}
}

// TestBodyControlLibraryReadsAll is the control for the test above: the
// MCP library on its own (coord before the fix) reads the whole 64 MiB.
func TestBodyControlLibraryReadsAll(t *testing.T) {
	var h harness
	netns.Run(t, func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		plain := server.NewStreamableHTTPServer(server.NewMCPServer("plain", "1"), server.WithStateLess(true), server.WithEndpointPath(Path))
		srv := &http.Server{Handler: plain}
		go srv.Serve(countingListener{ln, &h.read})
		defer srv.Close()
		status, err := postBig(ln.Addr().String(), "declared", hugeBody)
		if err != nil {
			t.Fatalf("control POST: %v", err)
		}
		if got := h.read.Load(); got < hugeBody {
			t.Errorf("control: the library read %d bytes of %d (status %d); the attack did not reproduce", got, hugeBody, status)
		}
	})
}

// TestFloodLeavesOthersRoom is item 5 on coord's MCP endpoint: alice holds
// many idle and slow connections; every call bob makes meanwhile succeeds,
// and alice's refusals are reported with her uid. The control row has only
// a total cap (what the fd limit was before): alice's flood takes it all
// and bob is turned away.
func TestFloodLeavesOthersRoom(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lim   *connlimit.Limiter
		bobOK bool
	}{
		{"per-uid cap", connlimit.New(4, 16), true},
		{"control: total cap only", connlimit.New(0, 16), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.lim)
			flood := h.cmd(h.alice, modeFlood, h.addr, "40")
			stdin, _ := flood.StdinPipe()
			stdout, _ := flood.StdoutPipe()
			var err error
			netns.In(t, h.ns, func() { err = flood.Start() })
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { stdin.Close(); flood.Wait() })
			if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "ready\n" {
				t.Fatalf("flooder: %q", line)
			}
			// Wait for the event itself: a refusal of alice's means she
			// holds all the cap lets her.
			for r := range h.refusals {
				if r.Known && r.UID == h.alice.UID {
					break
				}
			}
			out, code := h.as(h.bob, modeCall, h.url(), "10")
			if ok := code == 0 && strings.TrimSpace(out) == "ok 10"; ok != tc.bobOK {
				t.Errorf("bob's 10 calls during alice's flood: exit %d, %q; want success %v", code, out, tc.bobOK)
			}
			if tc.bobOK && tc.lim.Refused(h.bob.UID) != 0 {
				t.Errorf("bob was refused %d times", tc.lim.Refused(h.bob.UID))
			}
		})
	}
}

// TestQuotaRefusesOnlyTheFlooder is item 8's quota on the MCP endpoint:
// alice posts past limits.writes_per_hour (3 in the harness) and is
// refused with a clear tool error and an audited deny naming the rule;
// bob still posts. The control is alice's own first three posts, which
// went through.
func TestQuotaRefusesOnlyTheFlooder(t *testing.T) {
	h := newHarness(t, connlimit.New(32, 512))
	out, code := h.as(h.alice, modePost, h.url(), "5")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 5 {
		t.Fatalf("alice's 5 posts: exit %d: %q", code, out)
	}
	for i, l := range lines {
		if want := i < 3; (l == "ok") != want {
			t.Errorf("alice's post %d: %q; want ok only for the first 3", i+1, l)
		}
	}
	if !strings.Contains(lines[3], "over quota: agent alice has made 3 posts, comments and updates this hour") ||
		!strings.Contains(lines[3], "limits.writes_per_hour") {
		t.Errorf("refusal text %q does not say which limit", lines[3])
	}
	if out, code := h.as(h.bob, modePost, h.url(), "1"); code != 0 || strings.TrimSpace(out) != "ok" {
		t.Errorf("bob's post while alice is over her quota: exit %d: %q", code, out)
	}
	var denied []audit.Record
	for _, r := range h.records("tool_call") {
		if r.Method == toolPost && r.Decision == audit.Deny {
			denied = append(denied, r)
		}
	}
	if len(denied) != 2 || denied[0].Agent != "alice" || denied[0].UID == nil || *denied[0].UID != h.alice.UID ||
		denied[0].Rule != "limits.writes_per_hour" {
		t.Errorf("denied post_message records = %+v, want alice's two under limits.writes_per_hour", denied)
	}
}
