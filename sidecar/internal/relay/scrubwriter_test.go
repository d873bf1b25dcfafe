package relay

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/clemhq/clem/shared/scrub"
)

const wireSecret = "pg-pass-4e1f9a"

// sseHandler answers as a streaming MCP response does: two server-sent
// events flushed apart, the secret split between them, and the secret in a
// header value and a header name.
func sseHandler(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Debug", "dsn=postgres://u:"+wireSecret+"@db")
	w.Header().Set("X-"+wireSecret, "1")
	w.Header().Set("Content-Length", "999")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "event: message\ndata: {\"text\":\"pg-pass-")
	w.(http.Flusher).Flush()
	io.WriteString(w, "4e1f9a\"}\n\n")
	w.(http.Flusher).Flush()
	io.WriteString(w, "event: message\ndata: {\"b64\":\"cGctcGFzcy00ZTFmOWE=\"}\n\n")
}

// TestScrubWriter: what the handler writes reaches the client without the
// secret in any place; the control serves the same handler unwrapped and
// sees the secret in each of them.
func TestScrubWriter(t *testing.T) {
	s := scrub.New(scrub.Secret{Value: []byte(wireSecret), Replacement: "[REDACTED:pg]"})
	for _, tc := range []struct {
		name    string
		wrap    bool
		leaking bool
	}{
		{"control: unwrapped", false, true},
		{"scrubbed", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !tc.wrap {
					sseHandler(w, r)
					return
				}
				sw := newScrubWriter(w, s)
				defer sw.finish()
				sseHandler(sw, r)
			}))
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var wire strings.Builder
			resp.Header.Write(&wire)
			wire.Write(b)
			got := wire.String()
			leaked := strings.Contains(strings.ToLower(got), wireSecret) || strings.Contains(got, "cGctcGFzcy00ZTFmOWE")
			if leaked != tc.leaking {
				t.Errorf("leaked = %v, want %v:\n%s", leaked, tc.leaking, got)
			}
			if tc.wrap && (!strings.Contains(got, `data: {"text":"[REDACTED:pg]"}`) || !strings.Contains(got, "dsn=postgres://u:[REDACTED:pg]@db") || strings.Count(got, "event: message") != 2) {
				t.Errorf("scrubbed response lost its shape:\n%s", got)
			}
		})
	}
}

// TestScrubWriterPassesEventsAtOnce: an event that cannot start a secret
// is not held back for the next one (a notification stream must not lag a
// message behind).
func TestScrubWriterPassesEventsAtOnce(t *testing.T) {
	s := scrub.New(scrub.Secret{Value: []byte(wireSecret)})
	rec := httptest.NewRecorder()
	sw := newScrubWriter(rec, s)
	io.WriteString(sw, "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}\n\n")
	sw.Flush()
	if got := rec.Body.String(); !strings.HasSuffix(got, "}\n\n") {
		t.Errorf("after one event and a flush the client has %q; want the whole event", got)
	}
	sw.finish()
}
