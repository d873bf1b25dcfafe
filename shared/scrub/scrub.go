// Package scrub removes secrets from bytes on their way to someone who must
// not hold them: a daemon that gives a credential to a tool or an upstream
// runs everything that goes back to an agent through a Scrubber, so an echo
// of the credential (an error message quoting a connection string, a debug
// tool printing its environment) reaches the agent as a marker instead.
//
// It looks for each secret in every form a text protocol is likely to carry
// it in (see forms.go): raw; standard and URL base64, padded and not, also
// inside a longer base64 text; lower and upper case hex; percent-encoded;
// escaped as a JSON string, once or twice. Streams are scrubbed with Writer,
// which holds back only the end that may still grow into a form, so a secret
// split across two writes (two chunks, two server-sent events flushed apart)
// is replaced exactly as if the stream had been scrubbed whole.
//
// Scrubbing catches echoes; it cannot stop a program that holds the secret
// and means to leak it in a form of its own (reversed, one letter per
// message). That is why the secret stays in another user.
//
// Any module may import it (it lives in shared/): sidecar scrubs what its
// servers send back; agent-vault's own scrubber (internal/subst) predates it
// and may adopt it.
package scrub

import (
	"bytes"
)

// MinLen is the shortest secret a Scrubber looks for. Shorter ones would
// match ordinary text and shred it (a three-letter secret would be cut out
// of every JSON key holding those letters); New reports them in Skipped so a
// daemon can warn that it cannot scrub them.
const MinLen = 6

// Redacted is the default replacement of a secret's forms.
const Redacted = "[REDACTED]"

// Secret is one value to remove and what stands in its place. An empty
// Replacement means Redacted.
type Secret struct {
	Value       []byte
	Replacement string
}

// Scrubber finds every form of a fixed set of secrets. It is safe for
// concurrent use; a Writer is not.
type Scrubber struct {
	pats    [][]byte
	repl    [][]byte // repl[i] replaces pats[i]
	fail    [][]int  // fail[i] is pats[i]'s KMP failure table (pending)
	maxLen  int
	skipped []int
}

// New builds a scrubber for secrets. When two secrets share a form, the
// first one's replacement wins. Secrets shorter than MinLen are left out
// (see Skipped).
func New(secrets ...Secret) *Scrubber {
	s := &Scrubber{}
	seen := map[string]bool{}
	for i, sec := range secrets {
		if len(sec.Value) < MinLen {
			s.skipped = append(s.skipped, i)
			continue
		}
		r := sec.Replacement
		if r == "" {
			r = Redacted
		}
		for _, f := range Forms(sec.Value) {
			if len(f) == 0 || seen[string(f)] {
				continue
			}
			seen[string(f)] = true
			s.pats = append(s.pats, f)
			s.repl = append(s.repl, []byte(r))
			s.fail = append(s.fail, failure(f))
			s.maxLen = max(s.maxLen, len(f))
		}
	}
	return s
}

// Skipped lists the indexes (in New's arguments) of the secrets too short
// to look for.
func (s *Scrubber) Skipped() []int { return s.skipped }

// Empty reports whether there is nothing to look for.
func (s *Scrubber) Empty() bool { return s == nil || len(s.pats) == 0 }

// Bytes returns b with every form of every secret replaced. When there is
// nothing to replace it returns b itself, not a copy.
func (s *Scrubber) Bytes(b []byte) []byte {
	if s.Empty() {
		return b
	}
	out, _, n := s.replace(nil, b, len(b))
	if n == 0 {
		return b
	}
	return out
}

// String is Bytes for a string.
func (s *Scrubber) String(str string) string {
	if s.Empty() {
		return str
	}
	b := []byte(str)
	out, _, n := s.replace(nil, b, len(b))
	if n == 0 {
		return str
	}
	return string(out)
}

// replace appends b[:consumed] to dst with every form that starts before
// stop replaced, taking the leftmost occurrence first and, of two starting
// at the same byte, the longer. consumed is max(stop, the end of the last
// form replaced); n is how many were replaced.
func (s *Scrubber) replace(dst, b []byte, stop int) (out []byte, consumed, n int) {
	// next[i] caches where pats[i] next occurs at or after pos (-1: nowhere
	// in b), so each pattern's search moves forward through b only once.
	next := make([]int, len(s.pats))
	for i := range next {
		next[i] = -2
	}
	pos := 0
	for {
		st, pi := -1, -1
		for i, p := range s.pats {
			if next[i] == -1 {
				continue
			}
			if next[i] < pos {
				j := bytes.Index(b[pos:], p)
				if j < 0 {
					next[i] = -1
					continue
				}
				next[i] = pos + j
			}
			if st < 0 || next[i] < st || (next[i] == st && len(p) > len(s.pats[pi])) {
				st, pi = next[i], i
			}
		}
		if st < 0 || st >= stop {
			break
		}
		dst = append(dst, b[pos:st]...)
		dst = append(dst, s.repl[pi]...)
		pos = st + len(s.pats[pi])
		n++
	}
	end := max(pos, stop)
	return append(dst, b[pos:end]...), end, n
}

// pending is the length of the longest end of b that is a proper start of
// some form (0 if none): what a stream must hold back, since the next bytes
// may complete it. It is always below the longest form's length. Each form
// is matched against b's last len(form)-1 bytes with its KMP failure table,
// so a call costs the forms' total length whatever b holds.
func (s *Scrubber) pending(b []byte) int {
	best := 0
	for i, p := range s.pats {
		fail, k := s.fail[i], 0
		for _, c := range b[max(0, len(b)-(len(p)-1)):] {
			for k > 0 && p[k] != c {
				k = fail[k-1]
			}
			if p[k] == c {
				k++
			}
		}
		best = max(best, k)
	}
	return best
}

// failure is p's KMP table: f[i] is the length of the longest proper
// prefix of p[:i+1] that is also its suffix.
func failure(p []byte) []int {
	f := make([]int, len(p))
	for i, k := 1, 0; i < len(p); i++ {
		for k > 0 && p[i] != p[k] {
			k = f[k-1]
		}
		if p[i] == p[k] {
			k++
		}
		f[i] = k
	}
	return f
}

// ContainsFold reports whether str holds some form of a secret, letters
// compared without regard to case: for header names, which HTTP compares
// (and Go rewrites) that way, so a name cannot be scrubbed in place and is
// dropped instead.
func (s *Scrubber) ContainsFold(str string) bool {
	if s.Empty() {
		return false
	}
	low := bytes.ToLower([]byte(str))
	for _, p := range s.pats {
		if bytes.Contains(low, bytes.ToLower(p)) {
			return true
		}
	}
	return false
}
