package subst

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// hits is every placeholder found in one request, by surface.
type hits struct {
	header  []headerHit
	query   []span // in req.URL.RawQuery
	path    []span // in pathEsc, or in the raw path when pathErr is set
	body    []span
	pathDec string // normalised path, decoded
	pathEsc string // normalised path, escaped as the client wrote it
	pathErr error
	// jsonBody: body spans are in a JSON document; badJSON: the body claims
	// to be JSON but is not, and was searched raw.
	jsonBody, badJSON bool
}

// headerHit is one header value holding placeholders.
type headerHit struct {
	name  string // key in http.Header, as found
	index int    // which of the key's values
	// creds is set when the placeholder was in the decoded credentials of
	// "Authorization: Basic", as git sends a token; spans are then in creds.
	creds []byte
	spans []span
}

func (h *hits) has(s Surface) bool {
	switch s {
	case Header:
		return len(h.header) > 0
	case Query:
		return len(h.query) > 0
	case Path:
		return len(h.path) > 0
	case Body:
		return len(h.body) > 0
	}
	return false
}

func (h *hits) empty() bool {
	return len(h.header) == 0 && len(h.query) == 0 && len(h.path) == 0 && len(h.body) == 0
}

// placeholders lists the index of every placeholder found.
func (h *hits) placeholders() []int {
	var out []int
	for _, hh := range h.header {
		for _, s := range hh.spans {
			out = append(out, s.ph)
		}
	}
	for _, l := range [][]span{h.query, h.path, h.body} {
		for _, s := range l {
			out = append(out, s.ph)
		}
	}
	return out
}

// find searches every surface of req; body is nil unless takeBody read it.
func (e *Engine) find(req *http.Request, body []byte, kind bodyKind) *hits {
	h := &hits{header: e.findHeaders(req.Header)}
	h.query = e.findEncoded([]byte(req.URL.RawQuery), true)
	raw := req.URL.EscapedPath()
	h.pathDec, h.pathEsc, h.pathErr = normalizePath(raw)
	if h.pathErr != nil {
		// Still look, so the refusal can say whose placeholder it was; a
		// path without one goes through untouched.
		h.path = e.findEncoded([]byte(raw), false)
	} else {
		h.path = e.findEncoded([]byte(h.pathEsc), false)
	}
	switch kind {
	case bodyJSON:
		h.jsonBody = true
		if json.Valid(body) {
			h.body = e.findJSON(body)
		} else {
			h.body, h.badJSON = e.spans(body, nil, 0), true
		}
	case bodyForm:
		h.body = e.findEncoded(body, true)
	}
	return h
}

// spans finds placeholders in dec and maps them through src (nil: dec is
// the raw text) to raw offsets, plus base.
func (e *Engine) spans(dec []byte, src []int, base int) []span {
	starts, pats := e.phm.findAll(dec)
	if len(starts) == 0 {
		return nil
	}
	out := make([]span, len(starts))
	for i, s := range starts {
		end := s + len(e.phm.pats[pats[i]])
		if src != nil {
			s, end = src[s], src[end]
		}
		out[i] = span{start: base + s, end: base + end, ph: pats[i]}
	}
	return out
}

// findHeaders searches every header value (in a fixed order, so refusals
// are reproducible), and the decoded credentials of Basic authorization.
func (e *Engine) findHeaders(hd http.Header) []headerHit {
	var out []headerHit
	for _, name := range slices.Sorted(maps.Keys(hd)) {
		for i, v := range hd[name] {
			if sp := e.spans([]byte(v), nil, 0); len(sp) > 0 {
				out = append(out, headerHit{name: name, index: i, spans: sp})
				continue
			}
			if !strings.EqualFold(name, "Authorization") {
				continue
			}
			if creds := basicCreds(v); creds != nil {
				if sp := e.spans(creds, nil, 0); len(sp) > 0 {
					out = append(out, headerHit{name: name, index: i, creds: creds, spans: sp})
				}
			}
		}
	}
	return out
}

// basicCreds decodes "Basic <base64>", or returns nil.
func basicCreds(v string) []byte {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return nil
	}
	creds, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return nil
	}
	return creds
}

// findEncoded searches percent-encoded text (a query, a path, a form body),
// decoding first, since an agent's tool may have escaped the placeholder.
func (e *Engine) findEncoded(raw []byte, plus bool) []span {
	if bytes.IndexByte(raw, '%') < 0 {
		return e.spans(raw, nil, 0) // '+' never is part of a placeholder
	}
	dec, src := decodePercent(raw, plus)
	return e.spans(dec, src, 0)
}

// findJSON searches the strings, keys included, of a valid JSON document; a
// placeholder can stand nowhere else in one.
func (e *Engine) findJSON(b []byte) []span {
	var out []span
	jsonStrings(b, func(start, end int) {
		raw := b[start:end]
		if bytes.IndexByte(raw, '\\') < 0 {
			out = append(out, e.spans(raw, nil, start)...)
			return
		}
		dec, src := decodeJSONString(raw)
		out = append(out, e.spans(dec, src, start)...)
	})
	return out
}
