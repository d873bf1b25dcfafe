package broker

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// The upstreams here stream the real key back the way a model API streams
// text: split over the JSON deltas of several server-sent events, each
// flushed on its own. A client joins the deltas' strings, so no one event
// holds the key.

func sseJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// modelStream is one API's stream carrying pieces as its deltas.
type modelStream func(pieces []string) []string // the events, each "event:...\ndata:...\n\n"

func anthropicDeltas(kind, field string) modelStream {
	return func(pieces []string) []string {
		ev := func(name string, v any) string { return "event: " + name + "\ndata: " + sseJSON(v) + "\n\n" }
		out := []string{
			ev("message_start", map[string]any{"type": "message_start", "message": map[string]any{"id": "msg_01", "role": "assistant"}}),
			ev("content_block_start", map[string]any{"type": "content_block_start", "index": 0, "content_block": map[string]any{"type": "text", "text": ""}}),
		}
		for _, p := range pieces {
			out = append(out, ev("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]any{"type": kind, field: p}}))
		}
		return append(out,
			ev("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0}),
			ev("message_stop", map[string]any{"type": "message_stop"}))
	}
}

func openAIDeltas(delta func(p string) map[string]any) modelStream {
	return func(pieces []string) []string {
		chunk := func(d map[string]any, finish any) string {
			return "data: " + sseJSON(map[string]any{"id": "chatcmpl-1", "object": "chat.completion.chunk",
				"choices": []any{map[string]any{"index": 0, "delta": d, "finish_reason": finish}}}) + "\n\n"
		}
		out := []string{chunk(map[string]any{"role": "assistant"}, nil)}
		for _, p := range pieces {
			out = append(out, chunk(delta(p), nil))
		}
		return append(out, chunk(map[string]any{}, "stop"), "data: [DONE]\n\n")
	}
}

// joinedDeltas is what a client of either API shows: every delta's string
// in order.
func joinedDeltas(t *testing.T, body string) string {
	t.Helper()
	var out strings.Builder
	for _, l := range strings.Split(body, "\n") {
		d, ok := strings.CutPrefix(l, "data: ")
		if !ok || d == "[DONE]" {
			continue
		}
		var ev struct {
			Delta   map[string]any `json:"delta"`
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
		if err := json.Unmarshal([]byte(d), &ev); err != nil {
			t.Fatalf("data line %q is not JSON: %v", d, err)
		}
		for _, f := range []string{"text", "partial_json", "thinking"} {
			if s, ok := ev.Delta[f].(string); ok {
				out.WriteString(s)
			}
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

// splitKey returns the texts upstream streams: the key cut at cuts, with
// some text around it; with ph instead of the key, the texts the agent
// should get (the placeholder where the key began, the rest of it gone).
func splitKey(text string, cuts []int, key, ph string) (sent, want []string) {
	pre, post, _ := strings.Cut(text, "KEY")
	prev := 0
	for i, c := range append(cuts, len(key)) {
		s, w := key[prev:c], ""
		if i == 0 {
			s, w = pre+s, pre+ph
		}
		if c == len(key) {
			s, w = s+post, w+post
		}
		sent, want = append(sent, s), append(want, w)
		prev = c
	}
	return sent, want
}

var deltaCases = []struct {
	name   string
	stream modelStream
	text   string
	cuts   []int
}{
	{"anthropic text_delta, 2 pieces", anthropicDeltas("text_delta", "text"), "The header was KEY, as asked.", []int{len(realKey) / 2}},
	{"anthropic text_delta, 5 pieces", anthropicDeltas("text_delta", "text"), "Here: KEY.", []int{3, 7, 12, 18}},
	{"anthropic text_delta, after the first byte", anthropicDeltas("text_delta", "text"), "X-Api-Key: KEY", []int{1}},
	{"anthropic input_json_delta", anthropicDeltas("input_json_delta", "partial_json"), `{"api_key": "KEY"}`, []int{5, 14}},
	{"anthropic thinking_delta", anthropicDeltas("thinking_delta", "thinking"), "The key is KEY.", []int{9}},
	{"openai content", openAIDeltas(func(p string) map[string]any { return map[string]any{"content": p} }), "Sure: KEY", []int{2, 11}},
	{"openai tool_calls arguments", openAIDeltas(func(p string) map[string]any {
		return map[string]any{"tool_calls": []any{map[string]any{"index": 0, "function": map[string]any{"arguments": p}}}}
	}), `{"k":"KEY"}`, []int{len(realKey) - 1}},
}

// TestModelDeltasScrubbed: an upstream that streams the key it received
// split over model-API deltas reaches the agent with the placeholder in the
// delta where the key began, every other byte of the stream as upstream
// sent it, whether upstream streams the events or sends them as one body
// of known length. Control: joined as a client joins them, upstream's own
// deltas hold the key. (With EventStream's delta layer switched off, every case
// here fails: checked while writing it.)
func TestModelDeltasScrubbed(t *testing.T) {
	got := make(chan string, 1)
	e := startWith(t, true, "", "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := receivedKey(r)
		got <- key
		path, whole := strings.CutSuffix(r.URL.Path, "/whole")
		for _, c := range deltaCases {
			if path != "/"+strings.ReplaceAll(c.name, " ", "_") {
				continue
			}
			sent, _ := splitKey(c.text, c.cuts, key, "")
			evs := c.stream(sent)
			w.Header().Set("Content-Type", "text/event-stream")
			if whole {
				body := strings.Join(evs, "")
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				io.WriteString(w, body)
				return
			}
			for _, ev := range evs {
				io.WriteString(w, ev)
				w.(http.Flusher).Flush()
			}
		}
	}))
	for _, c := range deltaCases {
		for _, mode := range []string{"", "/whole"} {
			t.Run(c.name+mode, func(t *testing.T) {
				sent, want := splitKey(c.text, c.cuts, realKey, phLead)
				upstream := strings.Join(c.stream(sent), "")
				if j := joinedDeltas(t, upstream); !strings.Contains(j, realKey) {
					t.Fatalf("control: upstream's deltas join to %q, without the key", j)
				}
				code, body := e.get("lead", "https://example.com/"+strings.ReplaceAll(c.name, " ", "_")+mode, map[string]string{"Authorization": "Bearer " + phLead})
				if k := <-got; k != realKey {
					t.Fatalf("upstream got %q, not the real key", k)
				}
				if code != 200 {
					t.Fatalf("status %d: %s", code, body)
				}
				if j := joinedDeltas(t, body); strings.Contains(j, realKey) || !strings.Contains(j, phLead) {
					t.Fatalf("the agent joins %q", j)
				}
				if wantBody := strings.Join(c.stream(want), ""); body != wantBody {
					t.Fatalf("the agent got\n%q\nwant\n%q", body, wantBody)
				}
			})
		}
	}
}

// TestModelDeltasStream: the delta layer holds only what may begin the
// key; a delta that cannot reaches the agent while upstream still waits to
// send the next.
func TestModelDeltasStream(t *testing.T) {
	next := make(chan struct{})
	e := startWith(t, true, "", "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		evs := anthropicDeltas("text_delta", "text")([]string{"Hello.", " Bye."})
		io.WriteString(w, strings.Join(evs[:3], ""))
		w.(http.Flusher).Flush()
		<-next
		io.WriteString(w, strings.Join(evs[3:], ""))
	}))
	req, _ := http.NewRequest("GET", "https://example.com/stream", nil)
	req.Header.Set("Authorization", "Bearer "+phLead)
	resp, err := e.client("lead", true).Do(req)
	if err != nil {
		close(next)
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	var seen strings.Builder
	for !strings.Contains(seen.String(), `"Hello."`) {
		l, err := br.ReadString('\n')
		if err != nil {
			close(next)
			t.Fatalf("stream ended before the first delta: %q, %v", seen.String(), err)
		}
		seen.WriteString(l)
	}
	close(next)
	rest, _ := io.ReadAll(br)
	if j := joinedDeltas(t, seen.String()+string(rest)); j != "Hello. Bye." {
		t.Fatalf("joined deltas %q", j)
	}
}
