package broker

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clemhq/clem/agent-vault/internal/config"
	"github.com/clemhq/clem/agent-vault/internal/subst"
	"github.com/clemhq/clem/shared/audit"
)

// newKey is the secret a rotation puts in the binding's place.
const newKey = "rk-rotated-xyz/123+456=789"

// wsRepeat upgrades, reports each frame it gets on got (frameLabel), and
// answers each text message with every text message it has had, joined
// by "|": an upstream that can repeat what it was sent earlier.
func wsRepeat(got chan<- string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", wsAccept(r.Header.Get("Sec-WebSocket-Key")))
		var all []string
		messages(brw, func(op byte, msg []byte) error {
			got <- frameLabel(frame{op: op, payload: msg})
			all = append(all, string(msg))
			return writeFrame(c, frame{fin: true, op: opText, payload: []byte(strings.Join(all, "|"))}, false)
		}, func(f frame) error {
			got <- frameLabel(f)
			return nil
		})
		got <- "end"
	}
}

// reload puts in force the broker's config as edit changes it.
func reload(t *testing.T, e *env, edit func(f *config.File)) {
	t.Helper()
	f := e.srv.cfg.Load().File
	f.Bindings = slices.Clone(f.Bindings)
	for i := range f.Bindings {
		f.Bindings[i].Placeholders = slices.Clone(f.Bindings[i].Placeholders)
	}
	edit(&f)
	cfg, err := config.Compile("v.toml", f)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Reload(cfg, e.srv.ca.Load()); err != nil {
		t.Fatal(err)
	}
}

// TestWebSocketReload: a reload reaches a WebSocket already open. When it
// takes away the agent's binding for the host, the agent's next message
// does not go upstream (the secret least of all): the agent is sent 1008,
// upstream 1001, and the record denies by websocket.binding. When it
// rotates the secret, the next message carries the new one, and an
// upstream repeating both gets neither to the agent. The first message,
// before the reload, is the control: upstream got the real key.
func TestWebSocketReload(t *testing.T) {
	for _, tt := range []struct {
		name   string
		edit   func(t *testing.T, f *config.File)
		revoke bool
	}{
		{"binding revoked", func(t *testing.T, f *config.File) {
			f.Bindings[0].Placeholders = slices.DeleteFunc(f.Bindings[0].Placeholders, func(p config.Placeholder) bool { return p.Agent == "lead" })
		}, true},
		{"secret rotated", func(t *testing.T, f *config.File) {
			if err := os.WriteFile(filepath.Join(f.Secrets.Dir, "api_key2"), []byte(newKey), 0o600); err != nil {
				t.Fatal(err)
			}
			f.Bindings[0].Secret = "api_key2"
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan string, 16)
			e := startWith(t, true, "auth = \"\"\nsurfaces = [\"header\", \"websocket\"]", "", wsRepeat(got))
			tc, br := wsDial(t, e)
			send := func(s string) {
				t.Helper()
				if err := writeFrame(tc, frame{fin: true, op: opText, payload: []byte(s)}, true); err != nil {
					t.Fatal(err)
				}
			}
			send("key " + phLead)
			if s := <-got; s != "text:key "+realKey {
				t.Fatalf("before the reload upstream got %q, want the key substituted", s)
			}
			if f, err := readFrame(br); err != nil || string(f.payload) != "key "+phLead {
				t.Fatalf("before the reload the agent got %q, %v; want the echo scrubbed", f.payload, err)
			}
			reload(t, e, func(f *config.File) { tt.edit(t, f) })
			send("key " + phLead)
			if tt.revoke {
				frames, err := agentGets(br)
				tc.Close() // so upstream's side ends even if the relay went on
				if err != io.EOF || fmt.Sprint(frames) != "[close:1008]" {
					t.Errorf("after the binding was revoked the agent got %q, then %v; want a close with 1008, then the end", frames, err)
				}
				if up := upstreamGets(got); fmt.Sprint(up) != "[close:1001]" {
					t.Errorf("after the binding was revoked upstream got %q, want only a close with 1001", up)
				}
				recs := requestRecords(t, e, "/ws")
				if len(recs) != 1 || recs[0].Decision != audit.Deny || recs[0].Rule != ruleBinding {
					t.Errorf("when the agent saw the end the records were %+v; want one, deny by %s\n%s", recs, ruleBinding, e.audit.String())
				}
				return
			}
			if s := <-got; s != "text:key "+newKey {
				t.Errorf("after the rotation upstream got %q, want the new key", s)
			}
			f, err := readFrame(br)
			if err != nil {
				t.Fatal(err)
			}
			if s := string(f.payload); strings.Contains(s, realKey) || strings.Contains(s, newKey) || s != "key "+phLead+"|key "+phLead {
				t.Errorf("after the rotation the agent got %q; want both keys scrubbed", s)
			}
		})
	}
}

// TestWebSocketEnginesBounded: a relay keeps at most maxEngines engines
// (their scrubbers each hold what upstream sends); the one past them is
// refused by websocket.reloads, while one it keeps already is not.
func TestWebSocketEnginesBounded(t *testing.T) {
	e := startWith(t, true, "", "", nil)
	f := e.srv.cfg.Load().File
	w := &wsEngines{used: []*subst.Engine{e.srv.cfg.Load().Engine}}
	for i := 1; i <= maxEngines; i++ {
		cfg, err := config.Compile("v.toml", f)
		if err != nil {
			t.Fatal(err)
		}
		err = w.substituted(cfg.Engine)
		var refused *refusedMessage
		switch {
		case i < maxEngines && err != nil:
			t.Fatalf("engine %d: %v, want it kept", i+1, err)
		case i == maxEngines && (!errors.As(err, &refused) || refused.rule != ruleReloads):
			t.Fatalf("engine %d: %v, want a refusal by %s", i+1, err, ruleReloads)
		}
	}
	if err := w.substituted(w.first()); err != nil {
		t.Errorf("an engine kept already: %v", err)
	}
}
