package tests

import (
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/testutil/netns"
	"github.com/clemhq/clem/shared/testutil/users"
)

const (
	realKey     = "sk-real-upstream-key-0123456789abcdef"
	placeholder = "__clem_agent1_api_0123456789abcdef__"
	otherPH     = "__clem_agent1_other_fedcba9876543210__"
)

// TestBrokeredRequestThroughPipelockAndVault: in a fresh network namespace a
// real non-root user's curl, holding only a placeholder, goes through
// pipelock and agent-vault to a local TLS upstream that receives the real
// key; the same placeholder sent to another host is refused and audited.
func TestBrokeredRequestThroughPipelockAndVault(t *testing.T) {
	agent := users.Add(t, "avag")
	dir, err := os.MkdirTemp("", "clem-vault-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	secrets := filepath.Join(dir, "secrets")
	os.Mkdir(secrets, 0o700)
	os.WriteFile(filepath.Join(secrets, "api_key"), []byte(realKey+"\n"), 0o600)
	os.WriteFile(filepath.Join(secrets, "other_key"), []byte("sk-other-secret-value-42\n"), 0o600)

	netns.Run(t, func() {
		up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.Header.Get("X-Api-Key") {
			case realKey:
				// Echo the key back: the vault must scrub it.
				fmt.Fprintf(w, "upstream got the real key for %s; echo=%s", r.Host, r.Header.Get("X-Api-Key"))
			default:
				http.Error(w, "bad key: "+r.Header.Get("X-Api-Key"), http.StatusUnauthorized)
			}
		}))
		up.StartTLS()
		defer up.Close()
		upCA := filepath.Join(dir, "upstream-ca.pem")
		os.WriteFile(upCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw}), 0o644)

		bp := startBrokerPair(t, dir, upCA, fmt.Sprintf(`[[resolve]]
host = "example.com"
port = 443
address = %q
[[resolve]]
host = "other.example.com"
port = 443
address = %q
[[binding]]
name = "api"
secret = "api_key"
hosts = ["example.com"]
auth = "header"
header = "X-Api-Key"
[[binding.placeholder]]
agent = "agent1"
value = %q
[[binding]]
name = "other"
secret = "other_key"
hosts = ["other.example.com"]
[[binding.placeholder]]
agent = "agent1"
value = %q
`, up.Listener.Addr(), up.Listener.Addr(), placeholder, otherPH), fmt.Sprintf(`[[client]]
name = "agent1"
uids = [%d]
domains = ["example.com", "other.example.com"]
brokered = ["example.com", "other.example.com"]
`, agent.UID), "")
		proxyAddr, agentCA, vaultAudit, pipeAudit := bp.proxyAddr, bp.agentCA, bp.vaultAudit, bp.pipeAudit

		// The agent's environment: a placeholder and the proxy, nothing else.
		env := []string{"PATH=/usr/bin:/bin", "HTTPS_PROXY=http://" + proxyAddr, "API_KEY=" + placeholder}
		curl := func(url string) (string, int) {
			cmd := exec.Command("sh", "-c", `curl -sS --max-time 10 --cacert "$CA" -H "X-Api-Key: $API_KEY" -w '\nstatus=%{http_code}' "$URL"`)
			cmd.Env = append(env, "CA="+agentCA, "URL="+url)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: agent.UID, Gid: agent.GID}}
			out, _ := cmd.CombinedOutput()
			s := string(out)
			var code int
			if i := strings.LastIndex(s, "status="); i >= 0 {
				fmt.Sscanf(s[i:], "status=%d", &code)
				s = s[:i]
			}
			return strings.TrimSpace(s), code
		}
		for _, e := range env {
			if strings.Contains(e, realKey) {
				t.Fatalf("the agent's environment holds the real key: %s", e)
			}
		}
		out, code := curl("https://example.com/v1/check")
		if code != 200 || !strings.HasPrefix(out, "upstream got the real key for example.com") {
			t.Fatalf("brokered request: status %d, body %q", code, out)
		}
		if strings.Contains(out, realKey) || !strings.Contains(out, "echo="+placeholder) {
			t.Errorf("the response was not scrubbed: %q", out)
		}
		out, code = curl("https://other.example.com/steal")
		if code != 403 || !strings.Contains(out, "agent-vault") {
			t.Errorf("placeholder sent to another host: status %d, body %q; want 403 from agent-vault", code, out)
		}

		pipeRecs := readAudit(t, pipeAudit, 2)
		vaultRecs := readAudit(t, vaultAudit, 3)
		var allowed, refused *audit.Record
		for i := range vaultRecs {
			r := &vaultRecs[i]
			if r.Event != "request" {
				continue
			}
			if r.Decision == audit.Allow && r.Host == "example.com" {
				allowed = r
			}
			if r.Decision == audit.Deny && r.Host == "other.example.com" {
				refused = r
			}
		}
		if allowed == nil || allowed.Agent != "agent1" || allowed.Binding != "api" || allowed.Status != 200 || allowed.Path != "/v1/check" ||
			allowed.UID == nil || *allowed.UID != agent.UID {
			t.Errorf("vault record of the brokered request = %+v", allowed)
		}
		if refused == nil || refused.Agent != "agent1" || !strings.Contains(refused.Reason, "api") {
			t.Errorf("vault record of the refused request = %+v", refused)
		}
		shared := false
		for _, pr := range pipeRecs {
			if allowed != nil && pr.ConnID == allowed.ConnID && pr.Client == "agent1" && pr.UID != nil && *pr.UID == agent.UID {
				shared = true
				// pipelock passed the client's socket itself: it left the data path.
				if !strings.Contains(pr.Reason, "connection handed over") {
					t.Errorf("pipelock relayed the brokered tunnel instead of handing the connection over: %+v", pr)
				}
			}
		}
		if !shared {
			t.Errorf("pipelock and agent-vault records do not share a connection id:\npipelock %+v\nvault %+v", pipeRecs, allowed)
		}
		for _, f := range []string{pipeAudit, vaultAudit} {
			if b, _ := os.ReadFile(f); strings.Contains(string(b), realKey) {
				t.Errorf("%s contains the real key", f)
			}
		}
	})
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func writeFile(t *testing.T, path, content string) {
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// daemon is a started binary whose output is kept for failure messages.
type daemon struct {
	cmd *exec.Cmd
	out *lockedBuffer // its stdout and stderr, safe to read while it runs
}

func startDaemon(t *testing.T, name string, args ...string) *daemon {
	t.Helper()
	return startCmd(t, exec.Command(filepath.Join(binDir, name), args...))
}

// startCmd starts cmd, collecting its output, and stops it (SIGTERM, then
// SIGKILL after 10 s) when the test ends.
func startCmd(t *testing.T, cmd *exec.Cmd) *daemon {
	t.Helper()
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(cmd.Path), out.String())
		}
	})
	return &daemon{cmd: cmd, out: out}
}

// waitFor waits up to 5 s for d to be ready by ok, else fails with its output.
func waitFor(t *testing.T, ok func() bool, d *daemon) {
	t.Helper()
	if !poll(5*time.Second, ok) {
		t.Fatalf("%s did not come up:\n%s", filepath.Base(d.cmd.Path), d.out.String())
	}
}

func readAudit(t *testing.T, path string, atLeast int) []audit.Record {
	t.Helper()
	var recs []audit.Record
	if !poll(3*time.Second, func() bool {
		recs = recs[:0]
		b, _ := os.ReadFile(path)
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l == "" {
				continue
			}
			r, err := audit.Parse([]byte(l))
			if err != nil {
				t.Fatalf("%s: %v\n%s", path, err, l)
			}
			recs = append(recs, r)
		}
		return len(recs) >= atLeast
	}) {
		t.Fatalf("%s has %d records, want at least %d", path, len(recs), atLeast)
	}
	return recs
}
