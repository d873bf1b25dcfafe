package scrub

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
)

// testSecrets are chosen to be awkward: characters every escape touches,
// non-ASCII, one secret the start of another, and one too short to scrub.
var testSecrets = []Secret{
	{Value: []byte(`pa<ss"wo/rd+\1`), Replacement: "[R:one]"},
	{Value: []byte("hunter2-key"), Replacement: "[R:two]"},
	{Value: []byte("hunter2-key-longer"), Replacement: "[R:three]"},
	{Value: []byte("clé-secrète"), Replacement: "[R:four]"},
	{Value: []byte("abc")},
}

func TestForms(t *testing.T) {
	s := New(testSecrets...)
	if got := s.Skipped(); len(got) != 1 || got[0] != 4 {
		t.Errorf("Skipped() = %v, want [4] (the 3-byte secret)", got)
	}
	one := `pa<ss"wo/rd+\1`
	goJSON, _ := json.Marshal(one)
	inner, _ := json.Marshal(`{"k":"` + one + `"}`) // JSON quoted in JSON
	basic := base64.StdEncoding.EncodeToString([]byte("user:" + one))
	for _, tc := range []struct {
		name, in, want string
	}{
		{"raw", "x " + one + " y", "x [R:one] y"},
		{"base64 std", base64.StdEncoding.EncodeToString([]byte(one)), "[R:one]"},
		{"base64 url raw", base64.RawURLEncoding.EncodeToString([]byte(one)), "[R:one]"},
		{"hex", hex.EncodeToString([]byte(one)), "[R:one]"},
		{"HEX", strings.ToUpper(hex.EncodeToString([]byte(one))), "[R:one]"},
		{"query", url.QueryEscape(one), "[R:one]"},
		{"path", url.PathEscape(one), "[R:one]"},
		{"percent strict", "a=" + string(strictEscape([]byte(one))), "a=[R:one]"},
		{"json", `{"t":"` + string(jsonEscape([]byte(one))) + `"}`, `{"t":"[R:one]"}`},
		{"go json", `{"t":` + string(goJSON) + `}`, `{"t":"[R:one]"}`},
		{"json in json", string(inner), `"{\"k\":\"[R:one]\"}"`},
		{"inside basic credentials", "Basic " + basic, "Basic "},
		{"longest wins at one start", "hunter2-key-longer!", "[R:three]!"},
		{"shorter where the longer stops", "hunter2-key-long", "[R:two]-long"},
		{"non-ascii", "clé-secrète", "[R:four]"},
		{"non-ascii json ascii-escaped by go", mustJSON("clé-secrète"), `"[R:four]"`},
		{"short secret left alone", "abc abc", "abc abc"},
		{"nothing", "plain text", "plain text"},
	} {
		got := s.String(tc.in)
		if tc.name == "inside basic credentials" {
			// The aligned middle of the secret's base64 is replaced; what
			// is left must not decode to the secret.
			if got == tc.in || strings.Contains(got, base64.StdEncoding.EncodeToString([]byte(one))[2:12]) {
				t.Errorf("%s: String(%q) = %q: the secret's base64 core is still there", tc.name, tc.in, got)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("%s: String(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

func mustJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestBytesReturnsInputWhenClean(t *testing.T) {
	s := New(testSecrets...)
	in := []byte("nothing secret here")
	if out := s.Bytes(in); &out[0] != &in[0] {
		t.Error("Bytes copied a clean input")
	}
	if got := New().String("hunter2-key"); got != "hunter2-key" {
		t.Errorf("an empty scrubber changed its input: %q", got)
	}
}

// TestWriterSplitSecret: a secret written in two pieces (two chunks or two
// events flushed apart) is still replaced, and what cannot start a form is
// passed on at once, not held.
func TestWriterSplitSecret(t *testing.T) {
	s := New(testSecrets...)
	var out bytes.Buffer
	w := s.Writer(&out)
	w.Write([]byte("data: {\"text\":\"hunt"))
	if got := out.String(); got != `data: {"text":"` {
		t.Errorf("after the first half, passed on %q; want everything before the secret's start", got)
	}
	w.Write([]byte("er2-key\"}\n\n"))
	if got := out.String(); got != "data: {\"text\":\"[R:two]\"}\n\n" {
		t.Errorf("after the second half: %q", got)
	}
	if w.Held() != 0 {
		t.Errorf("an event's end is held back: %d bytes", w.Held())
	}
	w.Write([]byte("tail hunter"))
	w.Close()
	if !strings.HasSuffix(out.String(), "tail hunter") {
		t.Errorf("Close did not pass on the held end: %q", out.String())
	}
	if _, err := w.Write([]byte("x")); err != ErrClosed {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
}

// TestWriterControl: without the held tail (each piece scrubbed alone) the
// split secret gets through; this is what the Writer is for.
func TestWriterControl(t *testing.T) {
	s := New(testSecrets...)
	a, b := s.Bytes([]byte("hunt")), s.Bytes([]byte("er2-key"))
	if got := string(a) + string(b); got != "hunter2-key" {
		t.Fatalf("control: pieces scrubbed alone gave %q; the split test proves nothing", got)
	}
}

// streamed writes in through a Writer, cut at the given points.
func streamed(s *Scrubber, in []byte, cuts []int) []byte {
	var out bytes.Buffer
	w := s.Writer(&out)
	prev := 0
	for _, c := range cuts {
		w.Write(in[prev:c])
		prev = c
	}
	w.Write(in[prev:])
	w.Close()
	return out.Bytes()
}

// markers let the fuzzer put secrets' forms anywhere: {a}..{f} expand to
// forms of the test secrets.
func expand(in string) string {
	if !strings.Contains(in, "{") {
		return in
	}
	one, two := testSecrets[0].Value, testSecrets[1].Value
	r := strings.NewReplacer(
		"{a}", string(one),
		"{b}", string(two),
		"{c}", base64.StdEncoding.EncodeToString(two),
		"{d}", hex.EncodeToString(one),
		"{e}", string(jsonEscape(one)),
		"{f}", string(testSecrets[2].Value),
	)
	return r.Replace(in)
}

func FuzzWriter(f *testing.F) {
	for _, seed := range []string{
		"", "plain", "{a}", "x{a}y{b}z", "{b}{b}", "{f}{b}", "hunter2-ke{b}", "{c}=={d}", `{"t":"{e}"}`,
		"data: {b}\n\ndata: {a}\n\n", "hunter2-key-longe", "pa<ss\"wo/rd+\\", "{b}-longer",
	} {
		f.Add(seed, uint64(1))
	}
	s := New(testSecrets...)
	f.Fuzz(func(t *testing.T, text string, seed uint64) {
		in := []byte(expand(text))
		want := s.Bytes(in)
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		var cuts []int
		for p := 0; p < len(in); {
			p += 1 + rng.IntN(max(1, min(len(in), 2*s.maxLen)))
			if p < len(in) {
				cuts = append(cuts, p)
			}
		}
		if got := streamed(s, in, cuts); !bytes.Equal(got, want) {
			t.Fatalf("streamed with cuts %v:\n got %q\nwant %q (whole)\n  in %q", cuts, got, want, in)
		}
		// One byte at a time is the hardest split.
		if len(in) < 512 {
			every := make([]int, 0, len(in))
			for i := 1; i < len(in); i++ {
				every = append(every, i)
			}
			if got := streamed(s, in, every); !bytes.Equal(got, want) {
				t.Fatalf("streamed a byte at a time:\n got %q\nwant %q\n  in %q", got, want, in)
			}
		}
		// Whatever the fuzzer wrote, the secrets' raw forms do not survive
		// unless they overlap a replacement (which cannot be decoded back).
		for _, sec := range testSecrets[:4] {
			if bytes.Contains(want, sec.Value) && !bytes.Contains(in, []byte("[R:")) {
				t.Fatalf("Bytes(%q) = %q still holds %q", in, want, sec.Value)
			}
		}
	})
}

func TestContainsFold(t *testing.T) {
	s := New(testSecrets...)
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"X-Hunter2-Key", true},
		{"x-" + strings.ToUpper(hex.EncodeToString([]byte("hunter2-key"))), true},
		{"X-Hunter", false},
		{"Content-Type", false},
	} {
		if got := s.ContainsFold(tc.in); got != tc.want {
			t.Errorf("ContainsFold(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
