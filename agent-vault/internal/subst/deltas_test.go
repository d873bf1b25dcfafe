package subst

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// jsonText encodes v as a model API does: no HTML escaping.
func jsonText(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	return strings.TrimSuffix(b.String(), "\n")
}

// deltaFormat builds a whole event stream in one model API's format whose
// one stream of deltas carries texts.
type deltaFormat struct {
	name  string
	build func(texts []string) string
}

func anthropicEvent(name string, v any) string {
	return "event: " + name + "\ndata: " + jsonText(v) + "\n\n"
}

func anthropicStream(kind, field string, start map[string]any) func([]string) string {
	return func(texts []string) string {
		var b strings.Builder
		b.WriteString(anthropicEvent("message_start", map[string]any{"type": "message_start", "message": map[string]any{"id": "msg_1", "role": "assistant", "content": []any{}}}))
		b.WriteString(anthropicEvent("content_block_start", map[string]any{"type": "content_block_start", "index": 0, "content_block": start}))
		b.WriteString(anthropicEvent("ping", map[string]any{"type": "ping"}))
		for _, t := range texts {
			b.WriteString(anthropicEvent("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]any{"type": kind, field: t}}))
		}
		b.WriteString(anthropicEvent("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0}))
		b.WriteString(anthropicEvent("message_delta", map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": "end_turn"}, "usage": map[string]any{"output_tokens": 9}}))
		b.WriteString(anthropicEvent("message_stop", map[string]any{"type": "message_stop"}))
		return b.String()
	}
}

func openAIChunk(choice map[string]any) string {
	return "data: " + jsonText(map[string]any{"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "m", "choices": []any{choice}}) + "\n\n"
}

func openAIStream(delta func(t string) map[string]any, first map[string]any) func([]string) string {
	return func(texts []string) string {
		var b strings.Builder
		b.WriteString(openAIChunk(map[string]any{"index": 0, "delta": first, "finish_reason": nil}))
		for _, t := range texts {
			b.WriteString(openAIChunk(map[string]any{"index": 0, "delta": delta(t), "finish_reason": nil}))
		}
		b.WriteString(openAIChunk(map[string]any{"index": 0, "delta": map[string]any{}, "finish_reason": "stop"}))
		b.WriteString("data: [DONE]\n\n")
		return b.String()
	}
}

var deltaFormats = []deltaFormat{
	{"anthropic text_delta", anthropicStream("text_delta", "text", map[string]any{"type": "text", "text": ""})},
	{"anthropic input_json_delta", anthropicStream("input_json_delta", "partial_json", map[string]any{"type": "tool_use", "id": "toolu_1", "name": "echo", "input": map[string]any{}})},
	{"anthropic thinking_delta", anthropicStream("thinking_delta", "thinking", map[string]any{"type": "thinking", "thinking": ""})},
	{"openai content", openAIStream(func(t string) map[string]any { return map[string]any{"content": t} }, map[string]any{"role": "assistant", "content": ""})},
	{"openai tool_calls arguments", openAIStream(func(t string) map[string]any {
		return map[string]any{"tool_calls": []any{map[string]any{"index": 0, "function": map[string]any{"arguments": t}}}}
	}, map[string]any{"role": "assistant", "tool_calls": []any{map[string]any{"index": 0, "id": "call_1", "type": "function", "function": map[string]any{"name": "echo", "arguments": ""}}}})},
}

// clientText is what a client of either API shows: the strings of every
// delta, joined in order.
func clientText(t testing.TB, stream string) string {
	var out strings.Builder
	for _, l := range strings.Split(stream, "\n") {
		d, ok := strings.CutPrefix(l, "data: ")
		if !ok || d == "[DONE]" {
			continue
		}
		var ev struct {
			Delta        map[string]any `json:"delta"`
			ContentBlock map[string]any `json:"content_block"`
			Choices      []struct {
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
			t.Fatalf("a data line is no longer JSON: %q: %v", d, err)
		}
		for _, m := range []map[string]any{ev.ContentBlock, ev.Delta} {
			for _, f := range []string{"text", "partial_json", "thinking"} {
				if s, ok := m[f].(string); ok {
					out.WriteString(s)
				}
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

// pushLines runs stream through a DeltaStream line by line.
func pushLines(t testing.TB, ds *DeltaStream, stream string) string {
	t.Helper()
	var out strings.Builder
	for _, l := range strings.SplitAfter(stream, "\n") {
		if l == "" {
			continue
		}
		rel, err := ds.Push([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rel {
			out.Write(r)
		}
	}
	for _, r := range ds.Flush() {
		out.Write(r)
	}
	return out.String()
}

// TestDeltaStreamSplitSecret: a secret split over the deltas of one stream
// (in 2 or 5 pieces, right after its first byte, or in an encoded form)
// reaches the client as the placeholder, in the delta where it began, and
// every other byte of the stream is as upstream sent it. The control runs
// the same stream through the event scrubber without the delta layer: the
// client then joins the secret.
func TestDeltaStreamSplitSecret(t *testing.T) {
	f := newFixture(t)
	s := f.e.Scrubber("lead")
	ph := f.ph["lead/headeronly"]
	b64 := base64.StdEncoding.EncodeToString([]byte(secHeader))
	tests := []struct {
		name     string
		in, want []string
		secretIn string
	}{
		{"two pieces", []string{"the key is " + secHeader[:10], secHeader[10:] + ", done"}, []string{"the key is " + ph, ", done"}, secHeader},
		{"five pieces", []string{"key: " + secHeader[:3], secHeader[3:8], secHeader[8:12], secHeader[12:20], secHeader[20:] + "."}, []string{"key: " + ph, "", "", "", "."}, secHeader},
		{"after the first byte", []string{"a " + secHeader[:1], secHeader[1:] + " b"}, []string{"a " + ph, " b"}, secHeader},
		{"the whole secret, then a piece", []string{secHeader[:len(secHeader)-1], secHeader[len(secHeader)-1:]}, []string{ph, ""}, secHeader},
		{"base64, split", []string{"b64=" + b64[:9], b64[9:]}, []string{"b64=" + ph, ""}, b64},
		{"a secret with JSON escapes", []string{"w=" + secEverywhere[:4], secEverywhere[4:]}, []string{"w=" + f.ph["lead/everywhere"], ""}, secEverywhere},
		{"nothing to replace", []string{"hdr-", "x", "hdr", "-sec"}, []string{"hdr-", "x", "hdr", "-sec"}, ""},
	}
	for _, fm := range deltaFormats {
		for _, tt := range tests {
			t.Run(fm.name+"/"+tt.name, func(t *testing.T) {
				in, want := fm.build(tt.in), fm.build(tt.want)
				if got := pushLines(t, s.Deltas(), in); got != want {
					t.Fatalf("DeltaStream:\n got %q\nwant %q", got, want)
				}
				for _, src := range []io.Reader{strings.NewReader(in), iotest.OneByteReader(strings.NewReader(in))} {
					got := readAll(t, s.Reader(s.EventStream(src)))
					if got != want {
						t.Fatalf("Reader(EventStream):\n got %q\nwant %q", got, want)
					}
				}
				if tt.secretIn == "" {
					return
				}
				if c := clientText(t, readAll(t, s.Reader(s.eventStream(strings.NewReader(in), false)))); !strings.Contains(c, tt.secretIn) {
					t.Fatalf("control: without the delta layer the client joins %q, no secret: the test shows nothing", c)
				}
			})
		}
	}
}

// TestDeltaStreamHolds: a delta whose stream ends in even one byte of a
// form waits, with every line after it, until the next delta of its stream
// or the end of its block or choice; then it goes unchanged if the form did
// not go on.
func TestDeltaStreamHolds(t *testing.T) {
	f := newFixture(t)
	s := f.e.Scrubber("lead")
	ev := func(v any) string { return "data: " + jsonText(v) + "\n" }
	delta := func(i int, text string) string {
		return ev(map[string]any{"type": "content_block_delta", "index": i, "delta": map[string]any{"type": "text_delta", "text": text}})
	}
	choice := func(i int, content string, finish any) string {
		return ev(map[string]any{"choices": []any{map[string]any{"index": i, "delta": map[string]any{"content": content}, "finish_reason": finish}}})
	}
	stop := func(i int) string { return ev(map[string]any{"type": "content_block_stop", "index": i}) }
	// Each step is a line and how many lines Push releases for it.
	type step struct {
		line string
		out  int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"one byte held until the next delta", []step{{"event: content_block_delta\n", 1}, {delta(0, "x "+secHeader[:1]), 0}, {"\n", 0}, {"event: content_block_delta\n", 0}, {delta(0, "y"), 4}}},
		{"held until the block stops", []step{{delta(0, "x "+secHeader[:5]), 0}, {"\n", 0}, {stop(0), 3}}},
		{"another block's stop does not release it", []step{{delta(0, secHeader[:5]), 0}, {stop(1), 0}, {delta(0, "."), 3}}},
		{"held until message_stop", []step{{delta(0, secHeader[:5]), 0}, {ev(map[string]any{"type": "message_stop"}), 2}}},
		{"held until finish_reason", []step{{choice(0, secHeader[:5], nil), 0}, {choice(0, "", "stop"), 2}}},
		{"another choice's finish does not release it", []step{{choice(0, secHeader[:5], nil), 0}, {choice(1, "", "stop"), 0}, {"data: [DONE]\n", 3}}},
		{"no start of a form: nothing held", []step{{delta(0, "plain."), 1}, {choice(0, "text.", nil), 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := s.Deltas()
			var in, out strings.Builder
			for i, st := range tt.steps {
				rel, err := ds.Push([]byte(st.line))
				if err != nil {
					t.Fatal(err)
				}
				if len(rel) != st.out {
					t.Fatalf("step %d (%q): %d lines released, want %d", i, st.line, len(rel), st.out)
				}
				in.WriteString(st.line)
				for _, r := range rel {
					out.Write(r)
				}
			}
			if ds.Held() != 0 {
				t.Fatalf("%d lines still held", ds.Held())
			}
			if out.String() != in.String() {
				t.Fatalf("released %q, want the lines unchanged %q", out.String(), in.String())
			}
		})
	}
}

// TestDeltaStreamInterleaved: OpenAI choices interleave; each is its own
// stream, and lines keep their order.
func TestDeltaStreamInterleaved(t *testing.T) {
	f := newFixture(t)
	s := f.e.Scrubber("lead")
	ph := f.ph["lead/headeronly"]
	chunk := func(choices ...any) string {
		return "data: " + jsonText(map[string]any{"choices": choices}) + "\n\n"
	}
	c := func(i int, text string) map[string]any {
		return map[string]any{"index": i, "delta": map[string]any{"content": text}}
	}
	in := chunk(c(0, "a "+secHeader[:6]), c(1, "one")) + chunk(c(1, "two")) + chunk(c(1, secHeader[6:]), c(0, secHeader[6:]+" b")) + "data: [DONE]\n\n"
	want := chunk(c(0, "a "+ph), c(1, "one")) + chunk(c(1, "two")) + chunk(c(1, secHeader[6:]), c(0, " b")) + "data: [DONE]\n\n"
	if got := pushLines(t, s.Deltas(), in); got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

// TestDeltaStreamOtherShapes: lines that are not deltas of the two formats
// pass as they are and are never held, even when they end in the start of
// a secret.
func TestDeltaStreamOtherShapes(t *testing.T) {
	f := newFixture(t)
	s := f.e.Scrubber("lead")
	start := secHeader[:6]
	for _, line := range []string{
		"data: " + start + "\n",
		": " + start + "\n",
		"event: " + start + "\n",
		"id: 7\n",
		`data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a","text":"` + start + `"}}` + "\n",
		`data: {"type":"content_block_delta","index":0.5,"delta":{"type":"text_delta","text":"` + start + `"}}` + "\n",
		`data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"` + start + `"}}` + "\n",
		`data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"` + start + `"}` + "\n", // not JSON
		`data: {"choices":"` + start + `"}` + "\n",
		`data: {"choices":[{"index":0,"delta":{"content":7}}],"x":"` + start + `"}` + "\n",
		`data: {"other":"` + start + `"}` + "\n",
		"data:[DONE]\r\n",
	} {
		ds := s.Deltas()
		rel, err := ds.Push([]byte(line))
		if err != nil || len(rel) != 1 || string(rel[0]) != line {
			t.Errorf("Push(%q) = %q, %v; want the line back as it is", line, rel, err)
		}
	}
}

// TestDeltaStreamBounds: what may wait is bounded; past it the stream
// fails rather than grow.
func TestDeltaStreamBounds(t *testing.T) {
	f := newFixture(t)
	s := f.e.Scrubber("lead")
	held := `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"` + secHeader[:3] + `"}}` + "\n"
	tests := []struct {
		name  string
		lines func(i int) string
	}{
		{"lines behind a held delta", func(i int) string {
			if i == 0 {
				return held
			}
			return ": keep-alive\n"
		}},
		{"open streams", func(i int) string {
			return fmt.Sprintf(`data: {"type":"content_block_delta","index":%d,"delta":{"type":"text_delta","text":"%s"}}`+"\n", i, secHeader[:3])
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := s.Deltas()
			for i := 0; i < 10000; i++ {
				if _, err := ds.Push([]byte(tt.lines(i))); err != nil {
					return
				}
			}
			t.Fatalf("10000 lines pushed, %d held, no error", ds.Held())
		})
	}
}

// runeSplit cuts s into pieces at points drawn from seed, on rune
// boundaries (a delta is a JSON string, so always whole characters).
func runeSplit(s string, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var out []string
	for len(s) > 0 {
		n := r.IntN(min(len(s), 24) + 1)
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n++
		}
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

// FuzzDeltaStream checks the delta layer against scrubbing the whole text
// at once: for a text cut into deltas at random points, in each format,
// the client's joined text must be exactly the reference scrub, hold no
// form of any secret, and every line without a delta must be unchanged.
// The full pipeline (EventStream then Reader, reads cut at random points)
// must let no form through either.
func FuzzDeltaStream(f *testing.F) {
	fx := fixedFixture(f)
	s := fx.e.Scrubber("lead")
	for _, sec := range fx.secrets {
		for _, form := range secretForms([]byte(sec)) {
			f.Add("say "+string(form)+" and "+sec[:3], uint64(len(form)), uint8(len(sec)))
		}
	}
	f.Add("plain text", uint64(1), uint8(0))
	f.Fuzz(func(t *testing.T, text string, seed uint64, format uint8) {
		text = strings.ToValidUTF8(text, "\uFFFD")
		if strings.ContainsAny(text, "\u2028\u2029") {
			return // json.Marshal escapes these, the layer need not
		}
		fm := deltaFormats[int(format)%len(deltaFormats)]
		in := fm.build(runeSplit(text, seed))
		got := pushLines(t, s.Deltas(), in)
		want := string(s.Bytes([]byte(text)))
		if c := clientText(t, got); c != want {
			t.Fatalf("%s, deltas %q: client joins %q, want %q", fm.name, runeSplit(text, seed), c, want)
		}
		if st, _ := s.m.find([]byte(clientText(t, got)), 0); st >= 0 {
			t.Fatalf("%s: a form got through: %q", fm.name, clientText(t, got))
		}
		inLines, gotLines := strings.SplitAfter(in, "\n"), strings.SplitAfter(got, "\n")
		if len(inLines) != len(gotLines) {
			t.Fatalf("%d lines in, %d out", len(inLines), len(gotLines))
		}
		for i := range inLines {
			if !strings.HasPrefix(inLines[i], "data: ") && inLines[i] != gotLines[i] {
				t.Fatalf("line %d changed: %q -> %q", i, inLines[i], gotLines[i])
			}
		}
		piped, err := io.ReadAll(s.Reader(s.EventStream(&piecesReader{p: randomSplit([]byte(in), seed)})))
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := s.m.find([]byte(clientText(t, string(piped))), 0); st >= 0 {
			t.Fatalf("%s: a form got through the pipeline: %q", fm.name, clientText(t, string(piped)))
		}
	})
}

// BenchmarkEventStream: a model stream of 2000 small text deltas through
// the whole event-stream pipeline, with the delta layer and without it.
func BenchmarkEventStream(b *testing.B) {
	s := benchScrubber(b)
	pieces := make([]string, 2000)
	for i := range pieces {
		pieces[i] = fmt.Sprintf("word %d of the answer, ", i)
	}
	in := []byte(deltaFormats[0].build(pieces))
	for _, deltas := range []bool{true, false} {
		b.Run(fmt.Sprintf("deltas=%v", deltas), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := io.Copy(io.Discard, s.Reader(s.eventStream(bytes.NewReader(in), deltas))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzDeltaLines feeds arbitrary lines: the layer never fails on them,
// gives back as many lines as it took, in order, and changes only data
// lines, which stay JSON.
func FuzzDeltaLines(f *testing.F) {
	fx := fixedFixture(f)
	s := fx.e.Scrubber("lead")
	for _, fm := range deltaFormats {
		f.Add(fm.build([]string{"a " + secHeader[:5], secHeader[5:], "b"}))
	}
	f.Add("data: {\"choices\":[{\"index\":1e400,\"delta\":{\"content\":\"x\"}}]}\r\rdata: [DONE]")
	f.Fuzz(func(t *testing.T, stream string) {
		ds := s.Deltas()
		var in, out []string
		for rest := stream; rest != ""; {
			n, tn := lineEnd([]byte(rest))
			in = append(in, rest[:n+tn])
			rest = rest[n+tn:]
			rel, err := ds.Push([]byte(in[len(in)-1]))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rel {
				out = append(out, string(r))
			}
		}
		for _, r := range ds.Flush() {
			out = append(out, string(r))
		}
		if len(in) != len(out) {
			t.Fatalf("%d lines in, %d out", len(in), len(out))
		}
		for i := range in {
			if in[i] == out[i] {
				continue
			}
			if _, ok := dataValue([]byte(in[i]), i == 0); !ok {
				t.Fatalf("line %d is not data but changed: %q -> %q", i, in[i], out[i])
			}
			if !json.Valid([]byte(strings.TrimSpace(out[i][strings.Index(out[i], ":")+1:]))) {
				t.Fatalf("line %d is no longer JSON: %q -> %q", i, in[i], out[i])
			}
		}
	})
}
