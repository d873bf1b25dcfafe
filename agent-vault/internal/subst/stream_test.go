package subst

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
)

func TestHeaderScrub(t *testing.T) {
	f := newFixture(t)
	s := f.e.Scrubber("lead")
	ph := f.ph["lead/headeronly"]
	hexName := "X-" + hex.EncodeToString([]byte(secHeader))
	tests := []struct {
		name    string
		in      http.Header
		want    http.Header
		dropped int
	}{
		{"value", http.Header{"Sec-Websocket-Protocol": {secHeader}}, http.Header{"Sec-Websocket-Protocol": {ph}}, 0},
		{"value among others", http.Header{"X-Echo": {"a", "b " + secHeader + " c"}}, http.Header{"X-Echo": {"a", "b " + ph + " c"}}, 0},
		{"name", http.Header{"X-" + secHeader: {"1"}, "Keep": {"k"}}, http.Header{"Keep": {"k"}}, 1},
		// Go canonicalises a received name: the hex form arrives as
		// X-7864722d..., its case changed.
		{"name in canonical case", http.Header{http.CanonicalHeaderKey(hexName): {"1"}}, http.Header{}, 1},
		{"name in upper case", http.Header{strings.ToUpper(hexName): {"1"}}, http.Header{}, 1},
		{"trailer-prefixed name", http.Header{http.TrailerPrefix + "X-" + secHeader: {"1"}}, http.Header{}, 1},
		{"nothing to do", http.Header{"Content-Type": {"text/plain"}}, http.Header{"Content-Type": {"text/plain"}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.Clone()
			n := s.Header(got)
			if n != tt.dropped || !headersEqual(got, tt.want) {
				t.Errorf("Header(%v) = %v dropping %d, want %v dropping %d", tt.in, got, n, tt.want, tt.dropped)
			}
		})
	}
}

func headersEqual(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, vs := range a {
		if strings.Join(vs, "\x00") != strings.Join(b[k], "\x00") {
			return false
		}
	}
	return true
}

// push feeds msgs through a MessageStream and returns what it released,
// message by message, flushing at the end.
func push(t testing.TB, ms *MessageStream, msgs ...string) []string {
	t.Helper()
	var out []string
	for _, m := range msgs {
		rel, err := ms.Push([]byte(m))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rel {
			out = append(out, string(r))
		}
	}
	for _, r := range ms.Flush() {
		out = append(out, string(r))
	}
	return out
}

// TestMessageStreamSplitSecret: a secret (or an encoding of it) split over
// two messages at any point does not reach a client that joins them, and
// each message keeps its boundary. The control shows that scrubbing each
// message alone lets the halves through.
func TestMessageStreamSplitSecret(t *testing.T) {
	f := newFixture(t)
	s := f.e.Scrubber("lead")
	ph := f.ph["lead/headeronly"]
	for name, form := range map[string]string{
		"raw":    secHeader,
		"base64": base64.StdEncoding.EncodeToString([]byte(secHeader)),
		"hex":    hex.EncodeToString([]byte(secHeader)),
	} {
		t.Run(name, func(t *testing.T) {
			for cut := 1; cut < len(form); cut++ {
				a, b := "echo: "+form[:cut], form[cut:]+" done"
				out := push(t, s.Messages(), a, b)
				joined := strings.Join(out, "")
				if len(out) != 2 || strings.Contains(joined, form) || strings.Contains(joined, secHeader) || !strings.Contains(joined, ph) {
					t.Fatalf("cut %d: released %q", cut, out)
				}
				// Control: message by message, the halves pass.
				alone := string(s.Bytes([]byte(a))) + string(s.Bytes([]byte(b)))
				if !strings.Contains(alone, form) {
					t.Fatalf("cut %d: the control did not leak, so the test shows nothing: %q", cut, alone)
				}
			}
		})
	}
}

// TestMessageStreamHolds: a message ending in four or more bytes of a
// secret waits for the next; one ending in fewer goes at once, and the rest
// of the secret is still replaced when it comes.
func TestMessageStreamHolds(t *testing.T) {
	f := newFixture(t)
	s := f.e.Scrubber("lead")
	ph := f.ph["lead/headeronly"]
	ms := s.Messages()
	if rel, _ := ms.Push([]byte("x " + secHeader[:4])); len(rel) != 0 {
		t.Fatalf("a message ending in 4 bytes of the secret was released: %q", rel)
	}
	rel, _ := ms.Push([]byte(secHeader[4:] + " y"))
	if len(rel) != 2 || string(rel[0]) != "x "+ph || string(rel[1]) != " y" {
		t.Fatalf("released %q, want the placeholder in the first message", rel)
	}
	if rel, _ := ms.Push([]byte("z " + secHeader[:3])); len(rel) != 1 {
		t.Fatalf("a message ending in 3 bytes of the secret was held: %d held", ms.Held())
	}
	rel, _ = ms.Push([]byte(secHeader[3:] + " w"))
	if len(rel) != 1 || strings.Contains(string(rel[0]), secHeader[3:]) || string(rel[0]) != ph+" w" {
		t.Fatalf("the rest of a secret begun in released text: %q", rel)
	}
	if rel, _ := ms.Push([]byte("plain")); len(rel) != 1 || string(rel[0]) != "plain" {
		t.Fatalf("plain message: %q", rel)
	}
}

// TestMessageStreamBound: only the messages that reach into the start of a
// form wait; those before it go at once. What may wait is bounded in bytes
// and in messages.
func TestMessageStreamBound(t *testing.T) {
	f := newFixture(t)
	s := f.e.Scrubber("lead")
	ms := s.Messages()
	msg := []byte(strings.Repeat("a", 64<<10) + secHeader[:8])
	released := 0
	for i := 0; i < 20; i++ {
		rel, err := ms.Push(msg)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		released += len(rel)
	}
	if released != 19 || ms.Held() != 1 {
		t.Fatalf("20 messages each ending in a start: %d released, %d held; want 19 and 1", released, ms.Held())
	}
	for name, msgs := range map[string][][]byte{
		"bytes":    {[]byte(strings.Repeat("a", maxHeld) + secHeader[:8])},
		"messages": append([][]byte{[]byte("x" + secHeader[:8])}, make([][]byte, maxHeldMessages)...),
	} {
		ms := s.Messages()
		var err error
		for _, m := range msgs {
			if _, err = ms.Push(m); err != nil {
				break
			}
		}
		if err != ErrHeldTooLong {
			t.Errorf("%s: err = %v, want ErrHeldTooLong", name, err)
		}
	}
}

// sseData joins the data of every event as a client that concatenates
// deltas would.
func sseData(stream string) string {
	var b strings.Builder
	stream = strings.TrimPrefix(stream, "\ufeff")
	for _, l := range strings.FieldsFunc(stream, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if v, ok := strings.CutPrefix(l, "data:"); ok {
			b.WriteString(strings.TrimPrefix(v, " "))
		}
	}
	return b.String()
}

// TestEventStreamSplitSecret: the secret in two server-sent events, with
// every line ending the format allows, does not reach a client that joins
// their data. Control: the byte scrubber alone lets it through.
func TestEventStreamSplitSecret(t *testing.T) {
	f := newFixture(t)
	s := f.e.Scrubber("lead")
	ph := f.ph["lead/headeronly"]
	half := len(secHeader) / 2
	for _, tt := range []struct{ name, nl, bom string }{
		{"LF", "\n", ""}, {"CRLF", "\r\n", ""}, {"CR", "\r", ""}, {"BOM", "\n", "\ufeff"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			nl := tt.nl
			in := tt.bom + "event: delta" + nl + "data: " + secHeader[:half] + nl + nl + ": comment" + nl + "data:" + secHeader[half:] + nl + nl + "data: end" + nl + nl
			for _, src := range []io.Reader{strings.NewReader(in), iotest.OneByteReader(strings.NewReader(in))} {
				got := readAll(t, s.Reader(s.EventStream(src)))
				if d := sseData(got); strings.Contains(d, secHeader) || !strings.Contains(d, ph) || !strings.HasSuffix(d, "end") {
					t.Fatalf("client joins %q from %q", d, got)
				}
				if !strings.Contains(got, "event: delta"+nl) || !strings.Contains(got, ": comment"+nl) {
					t.Fatalf("other lines lost: %q", got)
				}
			}
			if d := sseData(readAll(t, s.Reader(strings.NewReader(in)))); !strings.Contains(d, secHeader) {
				t.Fatalf("control: the byte scrubber alone caught the split (%q), so the test shows nothing", d)
			}
		})
	}
}

// FuzzMessageStream checks the message scrubber against scrubbing the
// joined messages at once, with random message boundaries. Holding back any
// start of a form (holdMin 1) must give exactly the reference; the
// production setting must never let a whole secret through.
func FuzzMessageStream(f *testing.F) {
	fx := fixedFixture(f)
	for _, sec := range fx.secrets {
		f.Add([]byte("a"+sec+"b"+sec), uint64(1))
		f.Add([]byte(base64.StdEncoding.EncodeToString([]byte(sec))+"x"), uint64(7))
	}
	f.Add([]byte("plain text"), uint64(3))
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		msgs := randomSplit(in, seed)
		for _, hold := range []int{1, defaultHoldMin} {
			s := *fx.e.Scrubber("lead")
			s.holdMin = hold
			ms := s.Messages()
			var out [][]byte
			for _, m := range msgs {
				rel, err := ms.Push(m)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, rel...)
			}
			out = append(out, ms.Flush()...)
			if len(out) != len(msgs) {
				t.Fatalf("holdMin %d: %d messages in, %d out", hold, len(msgs), len(out))
			}
			joined := bytes.Join(out, nil)
			if want := s.Bytes(in); hold == 1 && !bytes.Equal(joined, want) {
				t.Fatalf("holdMin 1, messages %q: got %q, want %q", msgs, joined, want)
			}
			for name, sec := range fx.secrets {
				if bytes.Contains(joined, []byte(sec)) {
					t.Fatalf("holdMin %d, messages %q: the secret of %s got through: %q", hold, msgs, name, joined)
				}
			}
		}
	})
}

// FuzzScrubReaderSplits checks the streaming Reader against Bytes with
// reads cut at random points.
func FuzzScrubReaderSplits(f *testing.F) {
	fx := fixedFixture(f)
	s := fx.e.Scrubber("lead")
	for _, sec := range fx.secrets {
		f.Add([]byte("a"+sec+sec+"b"), uint64(5))
	}
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		got, err := io.ReadAll(s.Reader(&piecesReader{p: randomSplit(in, seed)}))
		if want := s.Bytes(in); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Reader over %q = %q, %v; Bytes = %q", randomSplit(in, seed), got, err, want)
		}
	})
}

// randomSplit cuts b into pieces (some empty) at points drawn from seed.
func randomSplit(b []byte, seed uint64) [][]byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var out [][]byte
	for len(b) > 0 {
		n := r.IntN(min(len(b), 48) + 1)
		out = append(out, b[:n])
		b = b[n:]
	}
	return append(out, nil)
}

type piecesReader struct{ p [][]byte }

func (r *piecesReader) Read(b []byte) (int, error) {
	for len(r.p) > 0 && len(r.p[0]) == 0 {
		r.p = r.p[1:]
	}
	if len(r.p) == 0 {
		return 0, io.EOF
	}
	n := copy(b, r.p[0])
	r.p[0] = r.p[0][n:]
	return n, nil
}

func BenchmarkHeader(b *testing.B) {
	f := newFixture(b)
	s := f.e.Scrubber("lead")
	h := http.Header{"Content-Type": {"application/json"}, "Date": {"Mon, 07 Dec 2026 17:06:44 GMT"}, "Request-Id": {"req_011CUabcdefghijkl"},
		"Cache-Control": {"no-store"}, "Anthropic-Ratelimit-Requests-Remaining": {"3999"}, "Content-Length": {"1234"}}
	b.ReportAllocs()
	for b.Loop() {
		s.Header(h)
	}
}
