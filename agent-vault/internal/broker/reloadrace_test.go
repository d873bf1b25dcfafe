package broker

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clemhq/clem/agent-vault/internal/config"
)

// TestReloadMidRequest: a reload that rotates the secret while a request
// is upstream does not change how that request's answer is scrubbed: the
// answer is scrubbed with the engine that substituted the request, which
// knows the secret upstream got. (Scrubbing with the engine in force when
// the answer arrives, which knows only the new secret, let an echo of the
// old one through.)
func TestReloadMidRequest(t *testing.T) {
	var e *env
	rotated := false
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !rotated {
			rotated = true
			reload(t, e, func(f *config.File) {
				if err := os.WriteFile(filepath.Join(f.Secrets.Dir, "api_key2"), []byte(newKey), 0o600); err != nil {
					t.Error(err)
				}
				f.Bindings[0].Secret = "api_key2"
			})
		}
		fmt.Fprintf(w, "auth=%s", r.Header.Get("Authorization"))
	})
	e = startWith(t, true, "", "", h)
	code, body := e.get("lead", "https://example.com/v1/x", map[string]string{"Authorization": "Bearer " + phLead})
	if code != 200 || strings.Contains(body, realKey) || body != "auth=Bearer "+phLead {
		t.Errorf("the answer to a request upstream during the rotation = %d %q; want the old key scrubbed to the placeholder", code, body)
	}
	// The control: the next request carries the new secret, and its echo
	// is scrubbed too.
	code, body = e.get("lead", "https://example.com/v1/x", map[string]string{"Authorization": "Bearer " + phLead})
	if code != 200 || strings.Contains(body, newKey) || body != "auth=Bearer "+phLead {
		t.Errorf("after the rotation = %d %q; want the new key scrubbed to the placeholder", code, body)
	}
}
