package tests

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
)

// echoUpstream is the matrix's TLS upstream for every test host. It
// records the X-Api-Key each request brought (by host and by path), and on
// /echo/ paths sends that key straight back in every place a response
// carries bytes: so a response that reaches the agent without the key
// proves agent-vault's scrubber, not a quiet server.
type echoUpstream struct {
	seen sync.Map // host -> X-Api-Key; "path:"+path -> X-Api-Key
}

func (u *echoUpstream) key(host string) string {
	v, _ := u.seen.Load(host)
	s, _ := v.(string)
	return s
}

func (u *echoUpstream) keyAt(path string) string {
	v, _ := u.seen.Load("path:" + path)
	s, _ := v.(string)
	return s
}

func (u *echoUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("X-Api-Key")
	u.seen.Store(r.Host, key)
	u.seen.Store("path:"+r.URL.Path, key)
	if other := r.Header.Get("X-Other"); other != "" {
		u.seen.Store("path:"+r.URL.Path+"#x-other", other)
	}
	half := len(key) / 2
	switch r.URL.Path {
	case "/echo/header-value":
		w.Header().Set("X-Echo", key)
	case "/echo/header-name":
		w.Header().Set("X-Echo-"+key, "1")
	case "/echo/early-hints":
		w.Header().Set("Link", "</"+key+">; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
	case "/echo/trailer":
		w.Header().Set("Trailer", "X-Echo")
		io.WriteString(w, "body first\n")
		w.(http.Flusher).Flush()
		w.Header().Set("X-Echo", key)
		return
	case "/echo/gzip":
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		io.WriteString(zw, "the key is "+key)
		zw.Close()
		return
	case "/echo/br":
		w.Header().Set("Content-Encoding", "br")
		bw := brotli.NewWriter(w)
		io.WriteString(bw, "the key is "+key)
		bw.Close()
		return
	case "/echo/sse-chunks":
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: "+key[:half])
		w.(http.Flusher).Flush()
		io.WriteString(w, key[half:]+"\n\n")
		return
	case "/echo/sse-events":
		w.Header().Set("Content-Type", "text/event-stream")
		for _, part := range []string{key[:half], key[half:]} {
			d, _ := json.Marshal(map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]any{"type": "text_delta", "text": part}})
			fmt.Fprintf(w, "event: content_block_delta\ndata: %s\n\n", d)
			w.(http.Flusher).Flush()
		}
		return
	case "/echo/sse-first-byte", "/echo/sse-json", "/echo/sse-openai", "/echo/sse-unflushed":
		u.deltas(w, r.URL.Path, key)
		return
	case "/ws":
		u.websocket(w, r, key)
		return
	}
	fmt.Fprintf(w, "hello from %s", r.Host)
}

// deltas streams the key back the way model APIs stream text: split
// right after its first byte over two Anthropic text deltas, inside a tool
// call's partial JSON, over OpenAI chat deltas, or (unflushed) all in one
// body whose length net/http then knows.
func (u *echoUpstream) deltas(w http.ResponseWriter, path, key string) {
	w.Header().Set("Content-Type", "text/event-stream")
	flush := path != "/echo/sse-unflushed"
	send := func(event string, data any) {
		d, _ := json.Marshal(data)
		if event != "" {
			fmt.Fprintf(w, "event: %s\n", event)
		}
		fmt.Fprintf(w, "data: %s\n\n", d)
		if flush {
			w.(http.Flusher).Flush()
		}
	}
	anthropic := func(typ, field string, parts ...string) {
		for _, p := range parts {
			send("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]any{"type": typ, field: p}})
		}
		send("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
	}
	switch path {
	case "/echo/sse-first-byte", "/echo/sse-unflushed":
		anthropic("text_delta", "text", key[:1], key[1:])
	case "/echo/sse-json":
		anthropic("input_json_delta", "partial_json", `{"k":"`+key[:7], key[7:]+`"}`)
	case "/echo/sse-openai":
		for _, p := range []string{key[:5], key[5:]} {
			send("", map[string]any{"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"content": p}}}})
		}
		fmt.Fprintf(w, "data: [DONE]\n\n")
	}
}

// websocket accepts any upgrade it is handed (the agent-vault must judge
// them), echoes the key in the 101's Sec-WebSocket-Protocol, then sends it
// in a ping, a pong, a message split over two frames, and a close frame.
func (u *echoUpstream) websocket(w http.ResponseWriter, r *http.Request, key string) {
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\nSec-WebSocket-Protocol: %s\r\n\r\n", key)
	half := len(key) / 2
	rw.Write(wsFrame(true, 0x9, []byte(key))) // ping
	rw.Write(wsFrame(true, 0xA, []byte(key))) // pong
	rw.Write(wsFrame(false, 0x1, []byte("k="+key[:half])))
	rw.Write(wsFrame(true, 0x0, []byte(key[half:])))
	rw.Write(wsFrame(true, 0x8, append([]byte{0x03, 0xE8}, key...))) // close 1000, reason
	rw.Flush()
}

// wsFrame is one unmasked (server) WebSocket frame.
func wsFrame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	var b []byte
	switch n := len(payload); {
	case n < 126:
		b = []byte{b0, byte(n)}
	default:
		b = []byte{b0, 126, 0, 0}
		binary.BigEndian.PutUint16(b[2:], uint16(n))
	}
	return append(b, payload...)
}

// leak says where secret appears in what a brokered response brought the
// agent, or "" when it does not: the raw bytes (and base64, hex forms),
// a compressed body decoded, SSE text deltas joined, WebSocket payloads
// joined.
func leak(raw []byte, secret string) string {
	if secret == "" {
		return "no secret to look for"
	}
	for _, form := range secretForms(secret) {
		if bytes.Contains(raw, []byte(form.v)) {
			return form.name + " in the raw response"
		}
	}
	head, body, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err == nil && resp.StatusCode != http.StatusSwitchingProtocols {
		dec, _ := io.ReadAll(resp.Body)
		switch strings.ToLower(resp.Header.Get("Content-Encoding")) {
		case "gzip":
			if zr, err := gzip.NewReader(bytes.NewReader(dec)); err == nil {
				dec, _ = io.ReadAll(zr)
			}
		case "br":
			dec, _ = io.ReadAll(brotli.NewReader(bytes.NewReader(dec)))
		}
		if bytes.Contains(dec, []byte(secret)) {
			return "in the decoded body"
		}
		if strings.Contains(sseText(dec), secret) {
			return "across SSE text deltas"
		}
	}
	if bytes.Contains(head, []byte(" 101 ")) && strings.Contains(wsText(body), secret) {
		return "across WebSocket frames"
	}
	return ""
}

type form struct{ name, v string }

func secretForms(s string) []form {
	return []form{
		{"the secret", s},
		{"base64", base64.StdEncoding.EncodeToString([]byte(s))},
		{"base64url", base64.RawURLEncoding.EncodeToString([]byte(s))},
		{"hex", hex.EncodeToString([]byte(s))},
	}
}

// sseText joins the deltas of an event stream in the two model wire
// formats (Anthropic text, partial JSON and thinking; OpenAI chat content
// and tool arguments), or the raw data of any other event.
func sseText(b []byte) string {
	var out strings.Builder
	for _, l := range strings.Split(string(b), "\n") {
		d, ok := strings.CutPrefix(l, "data: ")
		if !ok {
			continue
		}
		var ev struct {
			Delta *struct {
				Text        string `json:"text"`
				PartialJSON string `json:"partial_json"`
				Thinking    string `json:"thinking"`
			} `json:"delta"`
			Choices []struct {
				Delta struct {
					Content   string `json:"content"`
					ToolCalls []struct {
						Function struct {
							Arguments string `json:"arguments"`
						} `json:"function"`
					} `json:"tool_calls"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if json.Unmarshal([]byte(d), &ev) != nil {
			out.WriteString(d)
			continue
		}
		if ev.Delta != nil {
			out.WriteString(ev.Delta.Text + ev.Delta.PartialJSON + ev.Delta.Thinking)
		}
		for _, c := range ev.Choices {
			out.WriteString(c.Delta.Content)
			for _, tc := range c.Delta.ToolCalls {
				out.WriteString(tc.Function.Arguments)
			}
		}
	}
	return out.String()
}

// wsText joins the payloads of the server's WebSocket frames (control
// frames included) as one text.
func wsText(b []byte) string {
	var out strings.Builder
	for len(b) >= 2 {
		masked, n := b[1]&0x80 != 0, int(b[1]&0x7f)
		b = b[2:]
		switch n {
		case 126:
			if len(b) < 2 {
				return out.String()
			}
			n, b = int(binary.BigEndian.Uint16(b)), b[2:]
		case 127:
			if len(b) < 8 {
				return out.String()
			}
			n, b = int(binary.BigEndian.Uint64(b)), b[8:]
		}
		var mask []byte
		if masked {
			if len(b) < 4 {
				return out.String()
			}
			mask, b = b[:4], b[4:]
		}
		if n > len(b) {
			n = len(b)
		}
		p := append([]byte(nil), b[:n]...)
		for i := range p {
			if mask != nil {
				p[i] ^= mask[i%4]
			}
		}
		out.Write(p)
		b = b[n:]
	}
	return out.String()
}
