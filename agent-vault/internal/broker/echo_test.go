package broker

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// The upstreams here echo the real key the broker substituted, each in one
// of the places a response carries bytes. Each test checks that upstream
// did receive the real key (the control: the echo would carry it) and that
// the agent never sees it.

var hexKeyName = "X-" + hex.EncodeToString([]byte(realKey))

// receivedKey is the secret upstream got in Authorization (or "").
func receivedKey(r *http.Request) string {
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}

func compress(t testing.TB, coding string, b []byte) []byte {
	var buf bytes.Buffer
	var w io.WriteCloser
	switch coding {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "deflate":
		w, _ = flate.NewWriter(&buf, 5)
	case "br":
		w = brotli.NewWriter(&buf)
	case "zstd":
		w, _ = zstd.NewWriter(&buf)
	}
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// echoEverywhere answers by path with the received key in one place.
func echoEverywhere(t *testing.T, got chan<- string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := receivedKey(r)
		select {
		case got <- key:
		default:
		}
		switch p := strings.TrimPrefix(r.URL.Path, "/"); p {
		case "header":
			w.Header().Set("X-Echo", key)
			w.Header().Set(hex.EncodeToString([]byte(key)), "the name is the echo")
			fmt.Fprint(w, "ok")
		case "early":
			w.Header().Set("Link", "<https://example.com/"+key+">; rel=preload")
			w.Header().Set(hexKeyName, "1")
			w.WriteHeader(http.StatusEarlyHints)
			fmt.Fprint(w, "ok")
		case "trailer":
			w.Header().Set("Trailer", "X-Announced")
			fmt.Fprint(w, "body")
			w.(http.Flusher).Flush()
			w.Header().Set("X-Announced", key)
			w.Header().Set(http.TrailerPrefix+"X-Unannounced", key)
			w.Header().Set(http.TrailerPrefix+hexKeyName, "1")
		case "gzip", "deflate", "br", "zstd":
			w.Header().Set("Content-Encoding", p)
			w.Write(compress(t, p, []byte("echo: "+key+" end")))
		case "sse":
			w.Header().Set("Content-Type", "text/event-stream")
			half := len(key) / 2
			fmt.Fprintf(w, "event: delta\ndata: %s\n\n", key[:half])
			w.(http.Flusher).Flush()
			fmt.Fprintf(w, "event: delta\ndata: %s\n\n", key[half:])
		case "sse-whole": // no flush: the server sends a Content-Length
			w.Header().Set("Content-Type", "text/event-stream")
			half := len(key) / 2
			fmt.Fprintf(w, "event: delta\ndata: %s\n\nevent: delta\ndata: %s\n\n", key[:half], key[half:])
		}
	})
}

// TestEchoesScrubbed: the secret echoed in a header name or value, a 103's
// header, a trailer (announced or not), a compressed body, or split across
// two server-sent events (streamed, or in one body of known length) never
// reaches the agent.
func TestEchoesScrubbed(t *testing.T) {
	got := make(chan string, 1)
	e := startWith(t, true, "", "", echoEverywhere(t, got))
	for _, path := range []string{"header", "early", "trailer", "gzip", "deflate", "br", "zstd", "sse", "sse-whole"} {
		t.Run(path, func(t *testing.T) {
			var interim []string
			req, _ := http.NewRequest("GET", "https://example.com/"+path, nil)
			req.Header.Set("Authorization", "Bearer "+phLead)
			req = req.WithContext(withInterim(req.Context(), &interim))
			resp, err := e.client("lead", true).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if k := <-got; k != realKey {
				t.Fatalf("upstream got %q, not the real key: the echo would show nothing", k)
			}
			var seen strings.Builder
			fmt.Fprintf(&seen, "%s\n%v\n%v\n%s\n", resp.Status, resp.Header, resp.Trailer, body)
			for _, h := range interim {
				seen.WriteString(h)
			}
			all := seen.String()
			for _, form := range []string{realKey, strings.ToLower(hex.EncodeToString([]byte(realKey)))} {
				if strings.Contains(strings.ToLower(all), strings.ToLower(form)) {
					t.Fatalf("the agent saw the secret (%q):\n%s", form, all)
				}
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %s: %s", resp.Status, body)
			}
			switch path {
			case "header":
				if resp.Header.Get("X-Echo") != phLead {
					t.Errorf("X-Echo = %q, want the placeholder", resp.Header.Get("X-Echo"))
				}
			case "early":
				if len(interim) != 1 || !strings.Contains(interim[0], phLead) {
					t.Errorf("103 headers seen: %q, want one with the placeholder", interim)
				}
			case "trailer":
				if resp.Trailer.Get("X-Announced") != phLead || resp.Trailer.Get("X-Unannounced") != phLead {
					t.Errorf("trailers = %v, want the placeholder in both", resp.Trailer)
				}
			case "sse", "sse-whole":
				if !strings.Contains(string(body), phLead) {
					t.Errorf("events = %q, want the placeholder", body)
				}
			default:
				if string(body) != "echo: "+phLead+" end" || resp.Header.Get("Content-Encoding") != "" {
					t.Errorf("%s body = %q (Content-Encoding %q), want it decoded and scrubbed", path, body, resp.Header.Get("Content-Encoding"))
				}
			}
		})
	}
}

// TestUnknownEncodingRefused: a body in an encoding the broker cannot read
// is refused and audited, not passed through.
func TestUnknownEncodingRefused(t *testing.T) {
	e := startWith(t, true, "", "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "x-secret-sauce")
		fmt.Fprint(w, receivedKey(r))
	}))
	code, body := e.get("lead", "https://example.com/", map[string]string{"Authorization": "Bearer " + phLead})
	if code != http.StatusBadGateway || strings.Contains(body, realKey) {
		t.Fatalf("unknown encoding: %d %q, want 502", code, body)
	}
	if !strings.Contains(e.audit.String(), `x-secret-sauce`) || !strings.Contains(e.audit.String(), `"decision":"deny"`) {
		t.Errorf("refusal not audited: %s", e.audit.String())
	}
}

// TestUpgradeVariantsRefused: a request that asks to switch protocols in
// any way but one well-formed WebSocket handshake is refused before
// substitution (upstream never sees the key) and audited.
func TestUpgradeVariantsRefused(t *testing.T) {
	upstreamSaw := make(chan string, 16)
	e := startWith(t, true, "", "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstreamSaw <- receivedKey(r)
	}))
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	tests := []struct{ name, headers string }{
		{"websocket, x", "Upgrade: websocket, x\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n"},
		{"h2c", "Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n"},
		{"two Upgrade headers", "Upgrade: websocket\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n"},
		{"no Connection: upgrade", "Upgrade: websocket\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n"},
		{"no key", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"},
		{"version 8", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 8\r\n"},
		{"Connection: upgrade alone", "Connection: Upgrade\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc, br := tunnelTo(t, e)
			fmt.Fprintf(tc, "GET /ws HTTP/1.1\r\nHost: example.com\r\nAuthorization: Bearer %s\r\n%s\r\n", phLead, tt.headers)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "upgrade refused") {
				t.Fatalf("%s: %s %q, want 403 upgrade refused", tt.name, resp.Status, b)
			}
			select {
			case k := <-upstreamSaw:
				t.Fatalf("upstream was sent the request (key %q)", k)
			default:
			}
		})
	}
	if n := strings.Count(e.audit.String(), "upgrade refused"); n != len(tests) {
		t.Errorf("%d refusals audited, want %d:\n%s", n, len(tests), e.audit.String())
	}
	// Control: the same tunnel and headers without the upgrade go through.
	tc, br := tunnelTo(t, e)
	fmt.Fprintf(tc, "GET / HTTP/1.1\r\nHost: example.com\r\nAuthorization: Bearer %s\r\n\r\n", phLead)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 || <-upstreamSaw != realKey {
		t.Fatalf("control request: %v %v", resp, err)
	}
}

// tunnelTo opens a brokered TLS tunnel to example.com as lead.
func tunnelTo(t *testing.T, e *env) (*tls.Conn, *bufio.Reader) {
	t.Helper()
	c, status, body := e.handoff("example.com:443", "lead")
	if status != 200 {
		t.Fatalf("hand-off: %d %s", status, body)
	}
	tc := tls.Client(c, &tls.Config{RootCAs: e.caPool, ServerName: "example.com", NextProtos: []string{"http/1.1"}})
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	return tc, bufio.NewReader(tc)
}
