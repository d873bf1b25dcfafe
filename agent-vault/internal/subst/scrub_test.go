package subst

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"
)

func TestScrubEachForm(t *testing.T) {
	f := newFixture(t)
	s := f.e.Scrubber("lead")
	ph := f.ph["lead/everywhere"]
	sec := []byte(secEverywhere)
	basicEcho := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + secEverywhere))
	tests := []struct{ name, form string }{
		{"raw", secEverywhere},
		{"base64", base64.StdEncoding.EncodeToString(sec)},
		{"base64 unpadded", base64.RawStdEncoding.EncodeToString(sec)},
		{"base64url", base64.URLEncoding.EncodeToString(sec)},
		{"base64url unpadded", base64.RawURLEncoding.EncodeToString(sec)},
		{"base64 inside Basic credentials", basicEcho},
		{"base64 at offset 1", base64.StdEncoding.EncodeToString(append([]byte("a"), sec...))},
		{"base64 at offset 2", base64.StdEncoding.EncodeToString(append([]byte("ab"), sec...))},
		{"hex", hex.EncodeToString(sec)},
		{"HEX", strings.ToUpper(hex.EncodeToString(sec))},
		{"query-escaped", url.QueryEscape(secEverywhere)},
		{"strictly escaped", string(strictEscape(sec))},
		{"path-escaped", url.PathEscape(secEverywhere)},
		{"JSON-escaped", string(jsonEscape(sec))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := "before " + tt.form + " after"
			for name, got := range map[string]string{
				"Bytes":          string(s.Bytes([]byte(in))),
				"Reader":         readAll(t, s.Reader(strings.NewReader(in))),
				"OneByteReader":  readAll(t, s.Reader(iotest.OneByteReader(strings.NewReader(in)))),
				"DataErrReader":  readAll(t, s.Reader(iotest.DataErrReader(strings.NewReader(in)))),
				"HalfReader":     readAll(t, s.Reader(iotest.HalfReader(strings.NewReader(in)))),
				"OneByteReader2": readAll(t, iotest.OneByteReader(s.Reader(iotest.OneByteReader(strings.NewReader(in))))),
			} {
				if strings.Contains(got, tt.form) || !strings.Contains(got, ph) {
					t.Errorf("%s: %q still holds the form or lacks the placeholder", name, got)
				}
				if !strings.HasPrefix(got, "before ") || !strings.HasSuffix(got, " after") {
					t.Errorf("%s: %q lost its surroundings", name, got)
				}
			}
		})
	}
}

func TestScrubSplitAtEveryOffset(t *testing.T) {
	f := newFixture(t)
	s := f.e.Scrubber("lead")
	in := "x" + secHeader + "y" + secEverywhere + secEverywhere + "z"
	want := "x" + f.ph["lead/headeronly"] + "y" + f.ph["lead/everywhere"] + f.ph["lead/everywhere"] + "z"
	for cut := 0; cut <= len(in); cut++ {
		r := io.MultiReader(strings.NewReader(in[:cut]), strings.NewReader(in[cut:]))
		if got := readAll(t, s.Reader(r)); got != want {
			t.Fatalf("cut at %d: got %q, want %q", cut, got, want)
		}
	}
}

func TestScrubOtherAgentsSecrets(t *testing.T) {
	f := newFixture(t)
	in := "a " + secLeadOnly + " b " + secEverywhere
	if got, want := string(f.e.Scrubber("worker").Bytes([]byte(in))), "a "+Redacted+" b "+f.ph["worker/everywhere"]; got != want {
		t.Errorf("worker: got %q, want %q", got, want)
	}
	if got, want := string(f.e.Scrubber("stranger").Bytes([]byte(in))), "a "+Redacted+" b "+Redacted; got != want {
		t.Errorf("unknown agent: got %q, want %q", got, want)
	}
}

func TestScrubNoMatchUnchanged(t *testing.T) {
	f := newFixture(t)
	s := f.e.Scrubber("lead")
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 3, 100, scrubChunk - 1, scrubChunk, 3*scrubChunk + 17} {
		in := make([]byte, n)
		for i := range in {
			in[i] = byte(rng.Uint32())
		}
		if got := s.Bytes(in); !bytes.Equal(got, in) {
			t.Errorf("Bytes(%d random bytes) changed them", n)
		}
		if got := readAll(t, s.Reader(bytes.NewReader(in))); got != string(in) {
			t.Errorf("Reader(%d random bytes) changed them", n)
		}
		if got := readAll(t, s.Reader(iotest.OneByteReader(bytes.NewReader(in)))); n < 5000 && got != string(in) {
			t.Errorf("Reader(OneByteReader(%d random bytes)) changed them", n)
		}
	}
}

func TestScrubReaderError(t *testing.T) {
	f := newFixture(t)
	s := f.e.Scrubber("lead")
	// The source fails mid-secret: the held-back prefix must not come out.
	r := s.Reader(iotest.TimeoutReader(strings.NewReader("ok " + secEverywhere[:10])))
	got, err := io.ReadAll(r)
	if err != iotest.ErrTimeout {
		t.Fatalf("ReadAll error = %v", err)
	}
	if strings.Contains(string(got), secEverywhere[:10]) {
		t.Errorf("flushed a held-back secret prefix: %q", got)
	}
}

func readAll(t testing.TB, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// benchScrubber is a scrubber for three realistic secrets.
func benchScrubber(b *testing.B) *Scrubber {
	secrets := [][]byte{[]byte("sk-ant-api03-" + strings.Repeat("Ab9_", 20)), []byte("ghp_" + strings.Repeat("x7Q", 12)), []byte("AKIAIOSFODNN7EXAMPLE")}
	repls := []string{PlaceholderFor("lead", "a"), PlaceholderFor("lead", "b"), PlaceholderFor("lead", "c")}
	return newScrubber(secrets, repls)
}

func benchBodies() map[string][]byte {
	rng := rand.New(rand.NewPCG(3, 4))
	random := make([]byte, 4<<20)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	var text bytes.Buffer
	for text.Len() < 4<<20 {
		text.WriteString(`{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","content":[{"type":"text","text":"Hello! The quick brown fox jumps over the lazy dog 0123456789."}],"usage":{"input_tokens":2095,"output_tokens":503}}` + "\n")
	}
	return map[string][]byte{"random": random, "json": text.Bytes()}
}

func BenchmarkScrubReader(b *testing.B) {
	short := newScrubber([][]byte{[]byte("k3y!8byt")}, []string{PlaceholderFor("lead", "short")})
	for name, body := range benchBodies() {
		for sname, s := range map[string]*Scrubber{"3secrets": benchScrubber(b), "8-byte-secret": short} {
			b.Run(sname+"/"+name, func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				buf := make([]byte, 32<<10)
				for b.Loop() {
					if _, err := io.CopyBuffer(io.Discard, s.Reader(bytes.NewReader(body)), buf); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkScrubBytes(b *testing.B) {
	s := benchScrubber(b)
	for name, body := range benchBodies() {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				s.Bytes(body)
			}
		})
	}
}
