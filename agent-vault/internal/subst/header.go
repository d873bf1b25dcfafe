package subst

import (
	"bytes"
	"net/http"
)

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
	for name, vs := range hd {
		if st, _ := s.lower.find(bytes.ToLower([]byte(name)), 0); st >= 0 {
			delete(hd, name)
			dropped++
			continue
		}
		for i, v := range vs {
			if out := s.Bytes([]byte(v)); len(out) != len(v) || string(out) != v {
				vs[i] = string(out)
			}
		}
	}
	return dropped
}
