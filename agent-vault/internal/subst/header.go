package subst

import "net/http"

// Header scrubs a header block in place, whichever part of a response it
// came in (the final header, a 1xx or 101 response, trailers): each value
// has every secret replaced, and a header whose name holds a form of a
// secret is dropped. Names are compared without regard to case, because
// that is how HTTP compares them and Go rewrites a received name into its
// canonical case (x-abc-def becomes X-Abc-Def): a hex secret would reach the
// agent with only its case changed. It returns how many names it dropped.
func (s *Scrubber) Header(hd http.Header) (dropped int) {
	if len(s.m.pats) == 0 {
		return 0
	}
	var buf [128]byte // names are short: lower-case them without allocating
	for name, vs := range hd {
		if st, _ := s.lower.find(lowerInto(buf[:0], name), 0); st >= 0 {
			delete(hd, name)
			dropped++
			continue
		}
		for i, v := range vs {
			if len(v) < s.m.minLen {
				continue
			}
			if st, _ := s.m.find([]byte(v), 0); st >= 0 {
				vs[i] = string(s.Bytes([]byte(v)))
			}
		}
	}
	return dropped
}

func lowerInto(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}
