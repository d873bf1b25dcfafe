package subst

import (
	"bytes"
	"encoding/binary"
	"slices"
)

// matcher finds the leftmost-longest occurrence of any of a fixed set of
// patterns, fast enough to run over every response body.
//
// Rather than look at every byte, it samples a q-byte gram (q = 4, or the
// shortest pattern's length if less) every stride = minLen-q+1 bytes. Any
// occurrence of a pattern covers minLen bytes and so contains exactly one
// sampled gram, at an offset 0..minLen-q of the pattern; a table of the
// grams at those offsets of every pattern, behind a 64 Kibit filter that
// stays in L1, names the few candidates worth comparing. Text that holds no
// pattern costs one hash and one bit test per stride bytes.
type matcher struct {
	pats   [][]byte
	minLen int
	maxLen int
	q      int
	stride int
	bits   []uint64    // bit h is set if some gram hashes to h
	start  []uint32    // grams hashing to h are ents[start[h]:start[h+1]]
	ents   []gramEntry // (pattern, offset of the gram in it)
	// ends[c] lists the proper starts of patterns that end in byte c, as
	// (pattern, length), longest first: pending compares only those.
	ends [256][]gramEntry
}

type gramEntry struct {
	pat int32
	off int32
}

const hashBits = 16

func hashGram(x uint32) uint32 { return (x * 0x9E3779B1) >> (32 - hashBits) }

func loadGram(b []byte, q int) uint32 {
	if q == 4 {
		return binary.LittleEndian.Uint32(b)
	}
	var x uint32
	for i := 0; i < q; i++ {
		x |= uint32(b[i]) << (8 * i)
	}
	return x
}

// newMatcher takes non-empty, distinct patterns; the index of a pattern is
// what find reports.
func newMatcher(pats [][]byte) *matcher {
	m := &matcher{pats: pats}
	if len(pats) == 0 {
		return m
	}
	m.minLen, m.maxLen = len(pats[0]), len(pats[0])
	for _, p := range pats {
		m.minLen, m.maxLen = min(m.minLen, len(p)), max(m.maxLen, len(p))
	}
	m.q = min(4, m.minLen)
	m.stride = m.minLen - m.q + 1
	m.bits = make([]uint64, 1<<hashBits/64)
	m.start = make([]uint32, 1<<hashBits+1)
	for _, p := range pats {
		for off := 0; off+m.q <= m.minLen; off++ {
			m.start[hashGram(loadGram(p[off:], m.q))+1]++
		}
	}
	for h := 1; h < len(m.start); h++ {
		m.start[h] += m.start[h-1]
	}
	m.ents = make([]gramEntry, m.start[len(m.start)-1])
	next := append([]uint32(nil), m.start[:len(m.start)-1]...)
	for pi, p := range pats {
		for off := 0; off+m.q <= m.minLen; off++ {
			h := hashGram(loadGram(p[off:], m.q))
			m.ents[next[h]] = gramEntry{int32(pi), int32(off)}
			next[h]++
			m.bits[h/64] |= 1 << (h % 64)
		}
	}
	for pi, p := range pats {
		for k := 1; k < len(p); k++ {
			m.ends[p[k-1]] = append(m.ends[p[k-1]], gramEntry{int32(pi), int32(k)})
		}
	}
	for c := range m.ends {
		slices.SortStableFunc(m.ends[c], func(a, b gramEntry) int { return int(b.off - a.off) })
	}
	return m
}

// find returns the start and pattern index of the leftmost-longest
// occurrence lying wholly in b[from:], or -1, -1.
func (m *matcher) find(b []byte, from int) (start, pat int) {
	if len(m.pats) == 0 {
		return -1, -1
	}
	if m.q == 4 {
		for j := from; j+4 <= len(b); j += m.stride {
			h := hashGram(binary.LittleEndian.Uint32(b[j:]))
			if m.bits[h/64]&(1<<(h%64)) == 0 {
				continue
			}
			if s, p := m.verify(b, from, j, h); s >= 0 {
				return s, p
			}
		}
		return -1, -1
	}
	for j := from; j+m.q <= len(b); j += m.stride {
		h := hashGram(loadGram(b[j:], m.q))
		if m.bits[h/64]&(1<<(h%64)) == 0 {
			continue
		}
		if s, p := m.verify(b, from, j, h); s >= 0 {
			return s, p
		}
	}
	return -1, -1
}

// verify compares the candidates of the gram sampled at j. Every occurrence
// starting in [j-(minLen-q), j] shows up here, and none starting earlier
// (an earlier sample would have found it), so the leftmost-longest among
// them is the leftmost-longest overall.
func (m *matcher) verify(b []byte, from, j int, h uint32) (start, pat int) {
	start, pat = -1, -1
	for _, e := range m.ents[m.start[h]:m.start[h+1]] {
		s := j - int(e.off)
		if s < from || (start >= 0 && s > start) {
			continue
		}
		p := m.pats[e.pat]
		if s+len(p) > len(b) || !bytes.Equal(b[s:s+len(p)], p) {
			continue
		}
		if start < 0 || s < start || len(p) > len(m.pats[pat]) {
			start, pat = s, int(e.pat)
		}
	}
	return start, pat
}

// findAll returns the non-overlapping leftmost-longest occurrences in b.
func (m *matcher) findAll(b []byte) (starts, pats []int) {
	for pos := 0; ; {
		s, p := m.find(b, pos)
		if s < 0 {
			return starts, pats
		}
		starts, pats = append(starts, s), append(pats, p)
		pos = s + len(m.pats[p])
	}
}

// pending is the length of the longest end of b that is a proper start of
// some pattern (0 if none is): what a streaming scan must hold back, since
// the next bytes may complete it. Only the starts that end in b's last byte
// are compared, longest first.
func (m *matcher) pending(b []byte) int {
	if len(b) == 0 || len(m.pats) == 0 {
		return 0
	}
	for _, e := range m.ends[b[len(b)-1]] {
		if k := int(e.off); k <= len(b) && bytes.Equal(b[len(b)-k:], m.pats[e.pat][:k]) {
			return k
		}
	}
	return 0
}
