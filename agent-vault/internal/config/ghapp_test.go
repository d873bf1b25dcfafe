package config

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clemhq/clem/agent-vault/internal/ghapp/ghapptest"
	"github.com/clemhq/clem/agent-vault/internal/subst"
)

const phLead = "__clem_lead_github_0011223344556677__"

// appConfig is a config with one github_app binding reaching fake as
// example.com (its certificate's name) through [[resolve]] and the
// upstream CA, the way agent-vault reaches GitHub.
func appConfig(t *testing.T, fake *ghapptest.Server, dir string, installation int64) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "app.pem"), fake.KeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "upstream-ca.pem"), fake.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(fake.URL)
	return fmt.Sprintf(`[listen]
socket = "/run/av.sock"
[ca]
dir = "/var/lib/av/ca"
[upstream]
ca_file = %q
[[resolve]]
host = "example.com"
port = 443
address = %q
[[binding]]
name = "github"
hosts = ["github.com", "api.github.com"]
auth = "basic"
[binding.github_app]
app_id = %d
installation_id = %d
key_secret = "app.pem"
api = "https://example.com"
[[binding.placeholder]]
agent = "lead"
value = %q
`, filepath.Join(dir, "upstream-ca.pem"), u.Host, fake.AppID, installation, phLead)
}

func gitRequest(t *testing.T) *http.Request {
	t.Helper()
	req, err := http.NewRequest("GET", "https://github.com/o/r.git/info/refs?service=git-upload-pack", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("x-access-token", phLead)
	return req
}

// TestGitHubAppBinding: Start mints through [upstream] and [[resolve]],
// the engine substitutes the minted token, and Stop ends the refresher.
func TestGitHubAppBinding(t *testing.T) {
	fake := ghapptest.New(t, 4242, 7)
	dir := t.TempDir()
	c, err := parse(t, dir, appConfig(t, fake, dir, 7))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if fake.Requests() != 0 {
		t.Fatal("Compile reached GitHub; only Start may (agent-vault check must not)")
	}
	var mu sync.Mutex
	var reports []string
	c.Start(context.Background(), nil, func(b string, exp time.Time, err error) {
		mu.Lock()
		defer mu.Unlock()
		reports = append(reports, fmt.Sprintf("%s %v", b, err))
	})
	if fake.Mints() != 1 {
		t.Fatalf("Start returned after %d mints, want 1", fake.Mints())
	}
	req := gitRequest(t)
	res, err := c.Engine.Rewrite("lead", "github.com", req)
	if err != nil {
		t.Fatal(err)
	}
	if _, pass, _ := req.BasicAuth(); pass != fake.Tokens()[0] || res.Binding != "github" {
		t.Errorf("Rewrite() did not put the minted token in (binding %q)", res.Binding)
	}
	if got := string(c.Engine.ScrubberFor("lead", res).Bytes([]byte(fake.Tokens()[0]))); got != phLead {
		t.Errorf("the response scrubber gave %q, want the placeholder", got)
	}
	mu.Lock()
	if len(reports) != 1 || reports[0] != "github <nil>" {
		t.Errorf("reports = %q", reports)
	}
	mu.Unlock()
	c.Stop()
	c.Stop()
}

// TestGitHubAppUnreachable: GitHub failing at start does not stop
// agent-vault: Start returns after the first attempt and the binding's
// requests get 503 with GitHub's answer.
func TestGitHubAppUnreachable(t *testing.T) {
	fake := ghapptest.New(t, 4242, 7)
	fake.FailNext(1000, 503, "Service Unavailable")
	dir := t.TempDir()
	c, err := parse(t, dir, appConfig(t, fake, dir, 7))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	c.Start(context.Background(), nil, nil)
	_, err = c.Engine.Rewrite("lead", "github.com", gitRequest(t))
	var ref *subst.Refusal
	if !errors.As(err, &ref) || ref.Status != http.StatusServiceUnavailable || !strings.Contains(ref.Reason, `github app token not yet minted: `) || !strings.Contains(ref.Reason, `503 "Service Unavailable"`) {
		t.Errorf("Rewrite() = %v, want a 503 refusal saying the token is not yet minted and why", err)
	}
}

// TestGitHubAppReload: the next config of the same installation takes
// over the token (no mint, no gap); another installation mints its own.
func TestGitHubAppReload(t *testing.T) {
	fake := ghapptest.New(t, 4242, 7)
	dir := t.TempDir()
	src := appConfig(t, fake, dir, 7)
	old, err := parse(t, dir, src)
	if err != nil {
		t.Fatal(err)
	}
	old.Start(context.Background(), nil, nil)
	next, err := parse(t, dir, src)
	if err != nil {
		t.Fatal(err)
	}
	defer next.Stop()
	next.Start(context.Background(), old, nil)
	old.Stop()
	if fake.Mints() != 1 {
		t.Errorf("a reload of the same installation minted: %d mints", fake.Mints())
	}
	req := gitRequest(t)
	if _, err := next.Engine.Rewrite("lead", "github.com", req); err != nil {
		t.Fatal(err)
	}
	if _, pass, _ := req.BasicAuth(); pass != fake.Tokens()[0] {
		t.Error("the reloaded config does not serve the token it took over")
	}

	other := ghapptest.New(t, 4242, 8)
	odir := t.TempDir()
	moved, err := parse(t, odir, appConfig(t, other, odir, 8))
	if err != nil {
		t.Fatal(err)
	}
	defer moved.Stop()
	moved.Start(context.Background(), next, nil)
	if other.Mints() != 1 {
		t.Errorf("a reload to another installation did not mint its own token: %d mints", other.Mints())
	}
}

// TestGitHubAppErrors: each mistake is named with its binding, and the
// key's content is never quoted.
func TestGitHubAppErrors(t *testing.T) {
	fake := ghapptest.New(t, 4242, 7)
	dir := t.TempDir()
	src := appConfig(t, fake, dir, 7)
	os.WriteFile(filepath.Join(dir, "notakey"), []byte("KEYCONTENT-do-not-print\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "tok"), []byte("ghp_statictoken0123456789\n"), 0o600)
	tests := []struct{ name, old, new, want string }{
		{"both secret and app", `hosts = ["github.com"`, `secret = "tok"` + "\n" + `hosts = ["github.com"`, `binding[0] (github): set secret (a static token) or github_app (an App's installation tokens), not both`},
		{"no app id", `app_id = 4242`, `app_id = 0`, `binding[0] (github).github_app.app_id: want the App's numeric ID`},
		{"no installation", "installation_id = 7\n", "", `binding[0] (github).github_app.installation_id: want the installation's numeric ID`},
		{"no key secret", `key_secret = "app.pem"`, ``, `binding[0] (github).github_app.key_secret: name the file`},
		{"missing key file", `key_secret = "app.pem"`, `key_secret = "nope.pem"`, `binding[0] (github).github_app.key_secret: secret "nope.pem" not found`},
		{"not a key", `key_secret = "app.pem"`, `key_secret = "notakey"`, `binding[0] (github).github_app.key_secret "notakey": not an RSA private key in PEM`},
		{"plain http api", `api = "https://example.com"`, `api = "http://example.com"`, `binding[0] (github).github_app.api: "http://example.com": want an https URL`},
		{"api with a query", `api = "https://example.com"`, `api = "https://example.com/?x=1"`, `want an https URL without credentials, query or fragment`},
		{"websocket surface", `auth = "basic"`, `surfaces = ["header", "websocket"]`, `binding "github": a dynamic secret cannot be bound to websocket frames`},
		{"unknown key", `app_id = 4242`, "app_id = 4242\nappid = 1", `unknown key "binding.github_app.appid"`},
		{"missing upstream ca", `ca_file = "`, `ca_file = "/nonexistent`, `upstream.ca_file: open /nonexistent`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(src, tt.old) {
				t.Fatalf("the fixture lacks %q", tt.old)
			}
			c, err := parse(t, dir, strings.Replace(src, tt.old, tt.new, 1))
			if err == nil {
				c.Stop()
				t.Fatalf("Compile() succeeded, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Compile() = %v\nwant it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "KEYCONTENT") || strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("the error quotes the key file: %v", err)
			}
		})
	}
	if c, err := parse(t, dir, src); err != nil {
		t.Errorf("control: the fixture itself: %v", err)
	} else {
		c.Stop()
	}
}
