package broker

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clemhq/clem/agent-vault/internal/ca"
)

const ghPH = "__clem_lead_github_lead_0011223344556677__"

// startGitHub runs a broker whose only binding is lead's GitHub
// credential, under a GitHub policy, in front of upstream h (serving
// github.com and api.github.com with a certificate of its own CA). secret
// is the binding's source (`secret = "gh"`, or a [binding.github_app]
// table); setup writes what it needs into the secrets directory; extraCA
// is trusted for upstream TLS too.
func startGitHub(t *testing.T, h http.Handler, secret string, extraCA []byte, setup func(dir string)) *env {
	t.Helper()
	dir := t.TempDir()
	upCA, err := ca.New([]string{"github.com", "api.github.com"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewUnstartedServer(h)
	up.TLS = &tls.Config{GetCertificate: upCA.GetCertificate}
	up.StartTLS()
	t.Cleanup(up.Close)
	setup(dir)
	os.WriteFile(filepath.Join(dir, "up.pem"), append(upCA.CertPEM(), extraCA...), 0o644)
	src := fmt.Sprintf(`[listen]
socket = "/unused"
[trust]
proxy_uids = [%d]
[ca]
dir = %q
[secrets]
dir = %q
[upstream]
ca_file = %q
[[resolve]]
host = "github.com"
port = 443
address = %q
[[resolve]]
host = "api.github.com"
port = 443
address = %q
[[binding]]
name = "gh"
hosts = ["github.com", "api.github.com"]
%s
[[binding.placeholder]]
agent = "lead"
value = %q
[[github]]
agent = "lead"
level = "pr"
read = ["acme/app"]
push = ["acme/app"]
branches = ["lead/*"]
protected = ["main"]
`, os.Getuid(), filepath.Join(dir, "ca"), dir, filepath.Join(dir, "up.pem"), up.Listener.Addr(), up.Listener.Addr(), secret, ghPH)
	return serveConfig(t, dir, src)
}

// startGitHubToken is startGitHub with a static token.
func startGitHubToken(t *testing.T, h http.Handler) *env {
	return startGitHub(t, h, `secret = "gh"`, nil, func(dir string) {
		os.WriteFile(filepath.Join(dir, "gh"), []byte("ghp_realTokenForTheBrokerTests0123456789"), 0o600)
	})
}

// pushBody is a receive-pack request: one update creating ref, then a
// pack whose start the test controls.
func pushBody(ref string, pack io.Reader) io.Reader {
	line := fmt.Sprintf("%s %s %s\x00report-status side-band-64k\n", strings.Repeat("0", 40), strings.Repeat("a", 40), ref)
	cmd := fmt.Sprintf("%04x%s0000", len(line)+4, line)
	return io.MultiReader(strings.NewReader(cmd), pack)
}

// TestGitHubGate: what agent-vault refuses on the wire before the token
// goes in, each with a control that passes: a second push of the same
// agent while its first is being checked is refused at once (busy, not
// queued); a compressed GraphQL body and a method-override header are
// refused; git's empty probe before a large push goes upstream.
func TestGitHubGate(t *testing.T) {
	var upstream atomic.Int32
	e := startGitHubToken(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstream.Add(1)
		io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "upstream saw %s %s auth=%v", r.Method, r.URL.Path, r.Header.Get("Authorization") != "")
	}))
	c := e.client("lead", true)
	send := func(url, ctype string, body io.Reader, hdr map[string]string) (int, string, error) {
		req, _ := http.NewRequest("POST", url, body)
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", "token "+ghPH)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	post := func(url, ctype string, body io.Reader, hdr map[string]string) (int, string) {
		code, b, err := send(url, ctype, body, hdr)
		if err != nil {
			t.Fatalf("POST %s: %v", url, err)
		}
		return code, b
	}
	const rp = "https://github.com/acme/app.git/git-receive-pack"
	const rpType = "application/x-git-receive-pack-request"

	// The first push holds its pack slot: its pack never ends.
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	first := make(chan string, 1)
	go func() {
		_, b, err := send(rp, rpType, pushBody("refs/heads/lead/one", pr), nil)
		if err != nil {
			b = err.Error()
		}
		first <- b
	}()
	pw.Write([]byte("PACK\x00\x00\x00\x02\x00\x00\x00\x01"))
	// The slot is taken when the broker starts reading the pack.
	if !until(10*time.Second, func() bool { return e.srv.packs.Held(agentUID) == 1 }) {
		t.Fatalf("the first push never reached its pack check: %d slots held", e.srv.packs.Held(agentUID))
	}
	_, busy := post(rp, rpType, pushBody("refs/heads/lead/two", bytes.NewReader([]byte("PACK"))), nil)
	if !strings.Contains(busy, "checking other pushes") || !strings.Contains(busy, "lead/two") {
		t.Errorf("a second push during the first: %q, want it rejected as busy", busy)
	}
	pw.Close() // the pack ends after its header: not a pack
	if b := <-first; !strings.Contains(b, "push pack") {
		t.Errorf("the cut first push: %q, want a refusal about its pack", b)
	}
	if n := e.srv.packs.Held(agentUID); n != 0 {
		t.Fatalf("%d pack slots held after the first push was answered", n)
	}

	// git's probe before a large push: a flush, nothing else.
	before := upstream.Load()
	if code, b := post(rp, rpType, strings.NewReader("0000"), nil); code != 200 || !strings.Contains(b, "upstream saw POST") || upstream.Load() != before+1 {
		t.Errorf("git's empty probe: %d %q, want it forwarded", code, b)
	}
	// A probe with data after the flush is not a probe.
	if _, b := post(rp, rpType, strings.NewReader("0000PACK"), nil); !strings.Contains(b, "more data") {
		t.Errorf("a flush followed by data: %q, want a refusal", b)
	}

	gql := `{"query":"query { viewer { login } }"}`
	if code, b := post("https://api.github.com/graphql", "application/json", strings.NewReader(gql), nil); code != 200 || !strings.Contains(b, "upstream saw POST /graphql auth=true") {
		t.Errorf("a GraphQL query (control): %d %q", code, b)
	}
	if code, b := post("https://api.github.com/graphql", "application/json", strings.NewReader(gql), map[string]string{"Content-Encoding": "gzip"}); code != 403 || !strings.Contains(b, "Content-Encoding") {
		t.Errorf("a gzip GraphQL body: %d %q, want 403 naming Content-Encoding", code, b)
	}
	if code, b := post("https://api.github.com/graphql", "application/json", strings.NewReader(gql), map[string]string{"X-HTTP-Method-Override": "DELETE"}); code != 403 || !strings.Contains(b, "X-Http-Method-Override") {
		t.Errorf("a method override: %d %q, want 403 naming it", code, b)
	}
	log := e.audit.String()
	if !strings.Contains(log, `"rule":"github:push"`) || !strings.Contains(log, `"repo":"acme/app"`) || strings.Contains(log, "ghp_realToken") {
		t.Errorf("audit log: want github:push records naming acme/app and no token:\n%s", log)
	}
}

// until polls ok until it holds or d has passed: it waits for a state the
// broker reaches, not for a length of time.
func until(d time.Duration, ok func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if ok() {
			return true
		}
	}
	return ok()
}
