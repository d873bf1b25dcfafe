package subst

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// naiveFind is the definition find must meet: leftmost start, then longest.
func naiveFind(pats [][]byte, b []byte, from int) (int, int) {
	for s := from; s < len(b); s++ {
		best := -1
		for i, p := range pats {
			if bytes.HasPrefix(b[s:], p) && (best < 0 || len(p) > len(pats[best])) {
				best = i
			}
		}
		if best >= 0 {
			return s, best
		}
	}
	return -1, -1
}

// naivePending is the definition pending must meet: the longest end of b
// that is a proper start of some pattern.
func naivePending(pats [][]byte, b []byte) int {
	best := 0
	for _, p := range pats {
		for k := 1; k < len(p) && k <= len(b); k++ {
			if bytes.HasSuffix(b, p[:k]) {
				best = max(best, k)
			}
		}
	}
	return best
}

func TestMatcherAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	word := func(n int) []byte {
		w := make([]byte, n)
		for i := range w {
			w[i] = "abc"[rng.IntN(3)]
		}
		return w
	}
	for round := 0; round < 3000; round++ {
		seen := map[string]bool{}
		var pats [][]byte
		for range 1 + rng.IntN(5) {
			p := word(1 + rng.IntN(7))
			if !seen[string(p)] {
				seen[string(p)] = true
				pats = append(pats, p)
			}
		}
		m := newMatcher(pats)
		hay := word(rng.IntN(60))
		from := 0
		if len(hay) > 0 {
			from = rng.IntN(len(hay))
		}
		gs, gp := m.find(hay, from)
		ws, wp := naiveFind(pats, hay, from)
		if gs != ws || gp != wp {
			t.Fatalf("pats %q hay %q from %d: find = %d,%d, want %d,%d", pats, hay, from, gs, gp, ws, wp)
		}
		for end := 0; end <= len(hay); end++ {
			if got, want := m.pending(hay[:end]), naivePending(pats, hay[:end]); got != want {
				t.Fatalf("pats %q: pending(%q) = %d, want %d", pats, hay[:end], got, want)
			}
		}
	}
}
