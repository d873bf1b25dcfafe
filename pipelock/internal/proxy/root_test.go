package proxy

import (
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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

// TestTwoRealUsersInANamespace: in a fresh network namespace, two real
// users' curl processes go through one pipelock; each gets its own policy
// and its own uid in the audit record, taken from the kernel.
func TestTwoRealUsersInANamespace(t *testing.T) {
	alice, bob := users.Add(t, "plka"), users.Add(t, "plkb")
	shareDir, err := os.MkdirTemp("", "pipelock-root-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(shareDir) })
	os.Chmod(shareDir, 0o755)

	// The upstream stays on the host's loopback: only the listener and the
	// clients live in the namespace, and the proxy's dials (made from other
	// threads) leave from the host's.
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "upstream says hi") }))
	up.StartTLS()
	defer up.Close()
	ca := filepath.Join(shareDir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw}), 0o644)

	netns.Run(t, func() {

		res, err := peer.NewResolver()
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		src := fmt.Sprintf(`[listen]
proxy = "127.0.0.1:1"
%s
[[client]]
name = "alice"
uids = [%d]
domains = ["example.com"]

[[client]]
name = "bob"
uids = [%d]
domains = ["other.example.com"]
`, override("example.com", 443, up), alice.UID, bob.UID)
		cfg, err := config.Parse("root.toml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		p := serveTest(t, cfg, Options{Identify: identifyWith(res)}, false)

		curl := func(u users.User, url string) (string, int) {
			cmd := exec.Command("curl", "-sS", "--max-time", "10", "-x", "http://"+p.addr, "--cacert", ca, url)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID}}
			cmd.Env = []string{"PATH=/usr/bin:/bin"}
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("curl as %s: %v", u.Name, err)
			}
			return string(out), code
		}
		out, code := curl(alice, "https://example.com/")
		if code != 0 || out != "upstream says hi" {
			t.Errorf("alice: curl exit %d: %q", code, out)
		}
		ra := p.record("example.com:443")
		if ra.Client != "alice" || ra.UID == nil || *ra.UID != alice.UID || ra.Decision != audit.Allow {
			t.Errorf("alice's record = %+v", ra)
		}
		p.audit.mu.Lock()
		p.audit.b.Reset()
		p.audit.mu.Unlock()
		out, code = curl(bob, "https://example.com/")
		if code == 0 || !strings.Contains(out, "403") {
			t.Errorf("bob: curl exit %d: %q, want a 403 refusal", code, out)
		}
		rb := p.record("example.com:443")
		if rb.Client != "bob" || rb.UID == nil || *rb.UID != bob.UID || rb.Decision != audit.Deny || !strings.Contains(rb.Reason, "not on bob's allow-list") {
			t.Errorf("bob's record = %+v", rb)
		}
	})
}
