package proxy

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/clemhq/clem/pipelock/internal/config"
	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/peer"
	"github.com/clemhq/clem/shared/testutil/netns"
	"github.com/clemhq/clem/shared/testutil/users"
)

// TestAuditFloodKeepsOtherRecords is issue 15's audit-wipe attack against
// pipelock with the rotation provision writes (100 MB, keep 5) and the
// default flood limits: agent B (a real user, curl) is refused once; then
// agent A (root here) sends 100k refused CONNECTs, the first one to a
// distinct host and the rest with 2 to 30 KB targets. B's record and A's first
// refusal stay in the log, A's records are clipped, and the summary counts
// every refusal that was not written. shared/audit's TestFloodCannotEvict
// is the control: without summaries the same flood rotates B's record away.
func TestAuditFloodKeepsOtherRecords(t *testing.T) {
	const flood = 100_000
	agentB := users.Add(t, "plkb")
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	aw, err := audit.Open(path, 100, 5)
	if err != nil {
		t.Fatal(err)
	}
	netns.Run(t, func() {
		res, err := peer.NewResolver()
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		cfg, err := config.Parse("flood.toml", []byte(fmt.Sprintf(`[listen]
proxy = "127.0.0.1:1"
[[client]]
name = "a"
uids = [0]
domains = ["example.com"]
[[client]]
name = "b"
uids = [%d]
domains = ["example.com"]
`, agentB.UID)))
		if err != nil {
			t.Fatal(err)
		}
		srv := New(cfg, Options{Audit: aw, Identify: identifyWith(res)})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
		addr := ln.Addr().String()

		cmd := exec.Command("curl", "-sS", "--max-time", "10", "-x", "http://"+addr, "https://b-earlier.example/")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: agentB.UID, Gid: agentB.GID}}
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "403") {
			t.Fatalf("agent B's refused CONNECT: %v %s", err, out)
		}

		refusedOK := func(target string) error {
			c, code, err := connectTo(addr, target)
			if err != nil {
				return err
			}
			c.Close()
			if code != 403 && code != 400 { // a 30 KB name is not a host name: 400
				return fmt.Errorf("CONNECT %.40s...: status %d, want a refusal", target, code)
			}
			return nil
		}
		if err := refusedOK("a-first.example:443"); err != nil {
			t.Fatal(err)
		}
		// One connection at a time, dialed from this thread: its sockets
		// must be made in the namespace.
		// The first thousand carry 30 KB targets (twice in the request, line
		// and Host: under max_header_bytes), the rest 2 KB ones, still past
		// MaxFieldBytes: parsing 30 KB a hundred thousand times would only
		// make the test slow.
		huge := strings.Repeat("x", 30<<10) + ".example:443"
		long := strings.Repeat("y", 2<<10) + ".example:443"
		for i := 1; i < flood; i++ {
			target := long
			if i <= 1000 {
				target = huge
			}
			if err := refusedOK(target); err != nil {
				t.Fatalf("refusal %d: %v", i, err)
			}
		}
		srv.Shutdown(t.Context())
	})
	if err := aw.Close(); err != nil { // writes the pending summary
		t.Fatal(err)
	}

	var bKept, aFirst bool
	var aWritten, aCounted int64
	files, _ := filepath.Glob(path + "*")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			r, err := audit.Parse([]byte(line))
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(line) > 8<<10 {
				t.Errorf("a %d-byte record: fields not clipped: %.200s", len(line), line)
			}
			switch {
			case r.Client == "b" && r.Target == "b-earlier.example:443" && r.Decision == audit.Deny:
				bKept = true
			case r.Client == "a" && r.Event == audit.EventSuppressed:
				aCounted += r.Count
			case r.Client == "a" && r.Decision == audit.Deny:
				aWritten++
				aFirst = aFirst || r.Target == "a-first.example:443"
			}
		}
	}
	t.Logf("%d files; agent A: %d refusals written, %d counted in summaries", len(files), aWritten, aCounted)
	if !bKept {
		t.Error("agent B's earlier refusal is gone from the log")
	}
	if !aFirst {
		t.Error("the flood's first refusal is not in the log")
	}
	if aWritten+aCounted != flood || aWritten > int64(config.DefaultFloodRecords)*3 {
		t.Errorf("agent A: %d written + %d summarised, want %d in all with at most a few windows' %d written", aWritten, aCounted, flood, config.DefaultFloodRecords)
	}
}
