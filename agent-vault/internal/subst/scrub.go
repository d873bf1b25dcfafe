package subst

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/url"
	"unicode/utf8"

	"github.com/clemhq/clem/shared/secret"
)

// Scrubber replaces secrets in response data with placeholders, so an
// upstream that echoes a credential (an error message quoting the header, a
// debug endpoint, a token-introspection reply) never hands it to the agent.
//
// It looks for each secret raw; in standard and URL base64, padded and not,
// at each of the three byte alignments it can have inside a longer base64
// text (such as the Basic credentials "user:secret"); in lower and upper
// case hex; percent-encoded as a query or path would carry it; and escaped
// as a JSON string. Every form, encoded or not, is replaced by the
// placeholder in its raw form: re-encoding the placeholder would not give
// the agent anything it can use, and the raw form is what it recognises.
// Secrets bound for other agents are replaced by Redacted.
type Scrubber struct {
	m    *matcher
	repl [][]byte // repl[i] replaces m.pats[i]
	// lower finds the forms in lower case, for header names, which HTTP
	// compares (and Go rewrites) without regard to case.
	lower *matcher
	// holdMin is the shortest start of a form a MessageStream holds a
	// message back for (see MessageStream).
	holdMin int
}

// minCoreLen is the shortest unaligned base64 fragment worth looking for;
// shorter ones would match ordinary text and shred it.
const minCoreLen = 8

// secretForms lists the forms of s that Scrubber looks for.
func secretForms(s []byte) [][]byte {
	forms := [][]byte{s}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		forms = append(forms, []byte(enc.EncodeToString(s)))
	}
	// Inside a longer base64 text the secret starts 0, 1 or 2 bytes into a
	// 3-byte group; the characters whose 6 bits all come from the secret are
	// the same whatever surrounds it.
	for shift := 0; shift < 3; shift++ {
		for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
			full := enc.EncodeToString(append(make([]byte, shift), s...))
			first, end := (8*shift+5)/6, (8*shift+8*len(s))/6
			if end-first >= minCoreLen {
				forms = append(forms, []byte(full[first:end]))
			}
		}
	}
	h := hex.EncodeToString(s)
	forms = append(forms, []byte(h), upperASCII([]byte(h)))
	forms = append(forms, strictEscape(s), []byte(url.QueryEscape(string(s))), []byte(url.PathEscape(string(s))))
	if utf8.Valid(s) {
		j := jsonEscape(s)
		forms = append(forms, j, replaceAll(j, '/', `\/`))
		if m, err := json.Marshal(string(s)); err == nil { // Go's form: \u003c for '<' and the like
			forms = append(forms, m[1:len(m)-1])
		}
	}
	return forms
}

func upperASCII(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

func replaceAll(b []byte, c byte, with string) []byte {
	out := make([]byte, 0, len(b))
	for _, x := range b {
		if x == c {
			out = append(out, with...)
		} else {
			out = append(out, x)
		}
	}
	return out
}

// newScrubber: secrets bound for agent become its placeholder, the others
// Redacted; the agent's own come first so they win a form two secrets share.
// values gives a dynamic binding's values (see dynamics); nil when there
// are none.
func (e *Engine) newScrubber(agent string, values func(*binding) []secret.Value) *Scrubber {
	mine := map[*binding]string{}
	for _, p := range e.phs {
		if p.agent == agent && mine[p.b] == "" {
			mine[p.b] = p.value
		}
	}
	var secrets [][]byte
	var repls []string
	add := func(b *binding, repl string) {
		if b.dyn == nil {
			secrets, repls = append(secrets, b.secret.Reveal()), append(repls, repl)
			return
		}
		for _, v := range values(b) {
			secrets, repls = append(secrets, v.Reveal()), append(repls, repl)
		}
	}
	for _, b := range e.bindings {
		if v, ok := mine[b]; ok {
			add(b, v)
		}
	}
	for _, b := range e.bindings {
		if _, ok := mine[b]; !ok {
			add(b, Redacted)
		}
	}
	return newScrubber(secrets, repls)
}

// Scrubber returns the scrubber for responses to agent. With dynamic
// bindings it knows their current and previous values as of now.
func (e *Engine) Scrubber(agent string) *Scrubber {
	if !e.dyn.none() {
		return e.dyn.state(e).scrubber(agent)
	}
	if s := e.scrubbers[agent]; s != nil {
		return s
	}
	return e.others
}

// newScrubber builds a scrubber from (secret, replacement) pairs; the first
// pair to claim a form keeps it.
func newScrubber(secrets [][]byte, repls []string) *Scrubber {
	var pats, repl [][]byte
	seen := map[string]bool{}
	for i, s := range secrets {
		for _, f := range secretForms(s) {
			if len(f) == 0 || seen[string(f)] {
				continue
			}
			seen[string(f)] = true
			pats = append(pats, f)
			repl = append(repl, []byte(repls[i]))
		}
	}
	var low [][]byte
	seenLow := map[string]bool{}
	for _, p := range pats {
		l := bytes.ToLower(p)
		if !seenLow[string(l)] {
			seenLow[string(l)] = true
			low = append(low, l)
		}
	}
	lower := newMatcher(low)
	lower.ends = [256][]gramEntry{} // names are only searched, never streamed: pending is not needed
	return &Scrubber{m: newMatcher(pats), repl: repl, lower: lower, holdMin: defaultHoldMin}
}

// Bytes returns b with every secret replaced. When there is nothing to
// replace it returns b itself, not a copy.
func (s *Scrubber) Bytes(b []byte) []byte {
	st, pi := s.m.find(b, 0)
	if st < 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	pos := 0
	for st >= 0 {
		out = append(out, b[pos:st]...)
		out = append(out, s.repl[pi]...)
		pos = st + len(s.m.pats[pi])
		st, pi = s.m.find(b, pos)
	}
	return append(out, b[pos:]...)
}

// scrubChunk is how much Reader reads from its source at a time.
const scrubChunk = 32 << 10

// Reader returns a reader of r with every secret replaced. It streams: it
// holds back only the end of what it has read that begins some form (at
// most longest form - 1 bytes), in case the next read completes it. If r fails, the
// held-back bytes are dropped rather than flushed, since they may be the
// start of a secret.
func (s *Scrubber) Reader(r io.Reader) io.Reader {
	if len(s.m.pats) == 0 {
		return r
	}
	return &scrubReader{s: s, src: r, in: make([]byte, 0, scrubChunk+s.m.maxLen)}
}

type scrubReader struct {
	s   *Scrubber
	src io.Reader
	in  []byte // read but not yet scrubbed: at most maxLen-1 bytes between fills
	out []byte // scrubbed, not yet returned
	off int    // out[off:] is still to return
	err error  // from src; returned once out is drained
}

func (r *scrubReader) Read(p []byte) (int, error) {
	for empty := 0; r.off == len(r.out); empty++ {
		if r.err != nil {
			return 0, r.err
		}
		if empty == 100 {
			return 0, io.ErrNoProgress
		}
		r.out, r.off = r.out[:0], 0
		r.fill()
	}
	n := copy(p, r.out[r.off:])
	r.off += n
	return n, nil
}

func (r *scrubReader) fill() {
	n, err := r.src.Read(r.in[len(r.in):cap(r.in)])
	r.in = r.in[:len(r.in)+n]
	r.scrub(err == io.EOF)
	r.err = err
	if err != nil && err != io.EOF {
		r.in = r.in[:0]
	}
}

// scrub moves what is safe to release from in to out. Only the longest end
// of in that could still grow into a form is held back: a match starting
// before it is final (no longer or earlier form can be cut off by the end of
// in, or it would begin that end), and at EOF everything is safe.
func (r *scrubReader) scrub(eof bool) {
	m := r.s.m
	safe := len(r.in)
	if !eof {
		safe -= m.pending(r.in)
	}
	pos := 0
	for {
		st, pi := m.find(r.in, pos)
		if st < 0 || st >= safe {
			break
		}
		r.out = append(r.out, r.in[pos:st]...)
		r.out = append(r.out, r.s.repl[pi]...)
		pos = st + len(m.pats[pi])
	}
	end := max(pos, safe)
	r.out = append(r.out, r.in[pos:end]...)
	r.in = r.in[:copy(r.in, r.in[end:])]
}
