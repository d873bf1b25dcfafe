package tests

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/clemhq/clem/shared/audit"
)

// Rows added for the holes an attacker found (issue 15); each name starts
// with the item it holds. They run after the first matrix, in the same
// namespace, against the same daemons.

// brokeredRaw is a raw HTTP/1.1 request to the model host carrying the
// lead's placeholder in X-Api-Key (agent-vault swaps it for the real key),
// asking for every encoding and trailers.
func (cm *containment) brokeredRaw(path string, extra ...string) []byte {
	h := "GET " + path + " HTTP/1.1\r\nHost: " + cmModel + "\r\nX-Api-Key: " + cm.leadKey +
		"\r\nAccept-Encoding: gzip, br\r\nTE: trailers\r\nConnection: close\r\n"
	for _, e := range extra {
		h += e + "\r\n"
	}
	return []byte(h + "\r\n")
}

func wsAccept(key string) string {
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// scrubAttempts are item 7 and 16: the real key, echoed by the upstream
// in every place a response carries bytes, must not reach the agent.
func (cm *containment) scrubAttempts(up *echoUpstream) []*attempt {
	proxy := fmt.Sprintf("http://127.0.0.1:%d", cmProxyPort)
	secret := cm.f.secret
	echo := func(item, what, path string, extra ...string) *attempt {
		p := probe{Kind: "raw", Host: cmModel, Proxy: proxy, CAFiles: cm.caFiles, Raw: cm.brokeredRaw(path, extra...)}
		return &attempt{
			name:     fmt.Sprintf("[%s] the upstream echoes the real key %s", item, what),
			expected: "the swap happened upstream; nothing of the key in what the agent got",
			run: func() (bool, string) {
				o := cm.asLead(cm.t, p)
				got := up.keyAt(path)
				swapped := got == secret
				l := leak(o.Raw, secret)
				desc := fmt.Sprintf("HTTP %d, upstream got the real key: %v", o.Status, swapped)
				if o.Err != "" {
					desc += ", " + o.Err
				}
				if l != "" {
					return false, desc + ", LEAKED " + l
				}
				// Held when scrubbed (the key went out and did not come
				// back) or refused (it never went out).
				return o.Status != 0 && (swapped || o.Status >= 400), desc + ", no trace of the key"
			},
		}
	}
	wsKey := "dGhlIHNhbXBsZSBub25jZQ=="
	wsHeaders := []string{"Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: " + wsKey, "Sec-WebSocket-Protocol: chat"}
	rows := []*attempt{
		echo("7", "in a header value (control of the checker: this one was always scrubbed)", "/echo/header-value"),
		echo("16", "in a response header's NAME", "/echo/header-name"),
		echo("7", "in a 103 Early Hints response's headers", "/echo/early-hints"),
		echo("7", "in a trailer", "/echo/trailer"),
		echo("7", "in a gzip body", "/echo/gzip"),
		echo("7", "in a brotli body", "/echo/br"),
		echo("7", "split across two chunks of an event stream", "/echo/sse-chunks"),
		echo("7", "split across two SSE text deltas", "/echo/sse-events"),
		echo("7", "split after its first byte across two text deltas", "/echo/sse-first-byte"),
		echo("7", "split inside a tool call's partial JSON deltas", "/echo/sse-json"),
		echo("7", "split across OpenAI-style chat deltas", "/echo/sse-openai"),
		echo("7", "in text deltas sent unflushed (a body of known length)", "/echo/sse-unflushed"),
	}
	ws := echo("7", "in the 101's Sec-WebSocket-Protocol, a ping, a pong, a message split over two frames and a close frame", "/ws", wsHeaders...)
	rows = append(rows, ws)
	// Item 16: an Upgrade that is not exactly a WebSocket upgrade.
	for _, odd := range []string{"websocket, x", "h2c"} {
		p := probe{Kind: "raw", Host: cmModel, Proxy: proxy, CAFiles: cm.caFiles,
			Raw: cm.brokeredRaw("/ws-odd", "Upgrade: "+odd, "Connection: Upgrade", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: "+wsKey)}
		rows = append(rows, &attempt{
			name:     fmt.Sprintf("[16] a brokered request with `Upgrade: %s`", odd),
			expected: "refused before the swap: no 101, the upstream never gets the key, audited",
			run: func() (bool, string) {
				o := cm.asLead(cm.t, p)
				l := leak(o.Raw, secret)
				sent := up.keyAt("/ws-odd") == secret
				desc := fmt.Sprintf("HTTP %d, upstream got the real key: %v", o.Status, sent)
				return o.Status != 101 && !sent && l == "", desc
			},
			audited: func(r audit.Record) bool {
				return r.Component == "agent-vault" && r.Decision == audit.Deny && r.Agent == "lead" && r.Host == cmModel
			},
		})
	}
	// Item 7: with the model key's auth mode set by provision, the agent
	// cannot choose another header for the secret.
	other := probe{Kind: "raw", Host: cmModel, Proxy: proxy, CAFiles: cm.caFiles,
		Raw: []byte("GET /echo/other-header HTTP/1.1\r\nHost: " + cmModel + "\r\nX-Other: " + cm.leadKey + "\r\nConnection: close\r\n\r\n")}
	rows = append(rows, &attempt{
		name:     "[7] its placeholder in a header the agent chose (X-Other)",
		expected: "the real key goes only in the credential's own header",
		run: func() (bool, string) {
			o := cm.asLead(cm.t, other)
			v, _ := up.seen.Load("path:/echo/other-header#x-other")
			got, _ := v.(string)
			if got == secret {
				return false, fmt.Sprintf("HTTP %d; the upstream got the real key in X-Other", o.Status)
			}
			return o.Status != 0, fmt.Sprintf("HTTP %d; X-Other upstream: %q", o.Status, clip(got, 40))
		},
	})
	// Item 13: domain fronting through a brokered host: TLS to the model
	// host, an HTTP Host naming another.
	front := probe{Kind: "raw", Host: cmModel, Proxy: proxy, CAFiles: cm.caFiles,
		Raw: []byte("GET /v1/models HTTP/1.1\r\nHost: evil.test\r\nX-Api-Key: " + cm.leadKey + "\r\nConnection: close\r\n\r\n")}
	rows = append(rows, &attempt{
		name:     "[13] domain fronting inside a brokered tunnel (Host: evil.test over TLS to the model host)",
		expected: "refused: the key never goes to a request for another host",
		run: func() (bool, string) {
			o := cm.asLead(cm.t, front)
			sent := up.key("evil.test") == secret
			return o.Status != 0 && !sent, fmt.Sprintf("HTTP %d, upstream got the real key for evil.test: %v", o.Status, sent)
		},
	})
	return rows
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// sidecarListen reads a sidecar server's loopback address from the
// config provision wrote.
func (cm *containment) sidecarListen(server string) string {
	b, _ := os.ReadFile(filepath.Join(cm.etc, "sidecar-"+server+".toml"))
	m := regexp.MustCompile(`(?m)^\s*listen\s*=\s*"([^"]+)"`).FindSubmatch(b)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// placeholder reads an agent's model placeholder from its env file.
func (cm *containment) placeholder(agent string) string {
	env, _ := os.ReadFile(cm.etc + "/agents/" + agent + "/env")
	m := regexp.MustCompile(`ANTHROPIC_API_KEY="([^"]+)"`).FindSubmatch(env)
	if m == nil {
		return ""
	}
	return string(m[1])
}

func hasPrefixAny(s string, ps ...string) bool {
	for _, p := range ps {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// ssrfAttempts are item 9: a name on the agent's list that resolves into
// a range the SSRF guard must refuse (the resolver is the attacker's), and
// the control, a NAT64 address of a public IPv4, which the guard passes.
func (cm *containment) ssrfAttempts() []*attempt {
	proxy := fmt.Sprintf("http://127.0.0.1:%d", cmProxyPort)
	var rows []*attempt
	for _, h := range rebindHosts {
		target := h.name + ".rebind.test:443"
		ssrf := func(r audit.Record) bool {
			return r.Component == "pipelock" && r.Client == "lead" && r.Target == target && r.Decision == audit.Deny && strings.Contains(r.Reason, "ssrf")
		}
		p := probe{Kind: "https", URL: "https://" + h.name + ".rebind.test/", Proxy: proxy}
		if h.name == "public64" {
			rows = append(rows, &attempt{
				name:     "[9] control: a listed name resolving to " + h.what,
				expected: "the SSRF guard lets it through (the dial then fails here: no NAT64 gateway)",
				run: func() (bool, string) {
					o := cm.asLead(cm.t, p)
					var recs []audit.Record
					poll(5*time.Second, func() bool {
						recs = nil
						for _, r := range auditRecords(cm.state + "/pipelock/audit.log") {
							if r.Client == "lead" && r.Target == target {
								recs = append(recs, r)
							}
						}
						return len(recs) > 0
					})
					for _, r := range recs {
						if strings.Contains(r.Reason, "ssrf") {
							return false, "refused by the SSRF guard: " + r.Reason
						}
					}
					return len(recs) > 0, fmt.Sprintf("%s; %d records, none from the SSRF guard", describe(o), len(recs))
				},
			})
			continue
		}
		rows = append(rows, &attempt{
			name:     "[9] CONNECT to a listed name resolving to " + h.what,
			expected: "403 from pipelock's SSRF guard, audited",
			probe:    p,
			audited:  ssrf,
		})
	}
	return rows
}
