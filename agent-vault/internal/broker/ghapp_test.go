package broker

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clemhq/clem/agent-vault/internal/ghapp/ghapptest"
)

// TestGitHubAppBinding: a binding whose secret is a GitHub App's
// installation token answers 503 with the reason while no token has been
// minted, then puts the token in force into the agent's request, narrowed
// to the agent's policy when minted, and never shows it to the agent.
func TestGitHubAppBinding(t *testing.T) {
	app := ghapptest.New(t, 4242, 7)
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		minted := false
		for _, tok := range app.Tokens() {
			minted = minted || strings.HasSuffix(r.Header.Get("Authorization"), " "+tok)
		}
		// An echo too: the scrubber must hide the token in it.
		fmt.Fprintf(w, "minted=%v auth=%s", minted, r.Header.Get("Authorization"))
	})
	binding := fmt.Sprintf("[binding.github_app]\napp_id = 4242\ninstallation_id = 7\nkey_secret = \"app_key\"\napi = %q", app.URL)
	e := startGitHub(t, upstream, binding, app.CertPEM(), func(dir string) {
		os.WriteFile(filepath.Join(dir, "app_key"), app.KeyPEM(), 0o600)
	})
	get := func() (int, string) {
		return e.get("lead", "https://api.github.com/user", map[string]string{"Authorization": "token " + ghPH})
	}

	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, "not yet minted") {
		t.Fatalf("before the first mint: %d %q, want 503 saying no token is minted yet", code, body)
	}
	cfg := e.srv.cfg.Load()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); cfg.Stop() })
	cfg.Start(ctx, nil, nil) // returns once the first mint was tried
	tokens := app.Tokens()
	if len(tokens) != 1 {
		t.Fatalf("the fake minted %d tokens, want 1", len(tokens))
	}
	code, body := get()
	if code != 200 || !strings.Contains(body, "minted=true") || strings.Contains(body, tokens[0]) || !strings.Contains(body, ghPH) {
		t.Errorf("after the mint: %d %q, want upstream to get the minted token and its echo scrubbed back to the placeholder", code, body)
	}
	if sc := app.Scopes(); len(sc) != 1 || len(sc[0].Repositories) != 1 || sc[0].Repositories[0] != "app" || sc[0].Permissions["contents"] != "write" {
		t.Errorf("the mint asked for scope %+v, want acme/app with contents write (the agent's policy)", sc)
	}
	if log := e.audit.String(); strings.Contains(log, tokens[0]) {
		t.Error("the audit log holds the minted token")
	}
}
