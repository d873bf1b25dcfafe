package subst

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzJSONSpans checks the locating helpers against encoding/json: the
// members of an object and the elements of an array are the same values at
// the same bytes, strings decode the same, and a string the delta layer
// re-encodes decodes back to what it wrote.
func FuzzJSONSpans(f *testing.F) {
	for _, s := range []string{
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a\"b\\c\u00e9"}}`,
		`{"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}], "n": -1.5e3 , "t":true}`,
		`{"a":1,"a":2}`, `{"te\u0078t":"x"}`, `[1, "two", {"3": [4]}, null]`, ` { } `, `[]`, `"\ud800"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		v := jspan{skipSpace(b, 0), len(bytes.TrimRight(b, " \t\r\n"))}
		if end := skipValue(b, v.start); end != v.end {
			t.Fatalf("skipValue(%q) ends at %d, want %d", b, end, v.end)
		}
		var ref any
		json.Unmarshal(b, &ref)
		switch r := ref.(type) {
		case map[string]any:
			var raw map[string]json.RawMessage
			json.Unmarshal(b, &raw)
			m, ok := jsonObject(b, v)
			if !ok {
				if !repeatsName(b) {
					t.Fatalf("jsonObject(%q) refused an object without a repeated name", b)
				}
				return
			}
			if len(m) != len(raw) {
				t.Fatalf("jsonObject(%q): %d members, encoding/json %d", b, len(m), len(raw))
			}
			for k, sp := range m {
				if !bytes.Equal(b[sp.start:sp.end], raw[k]) {
					t.Fatalf("jsonObject(%q)[%q] = %q, encoding/json %q", b, k, b[sp.start:sp.end], raw[k])
				}
			}
		case []any:
			var raw []json.RawMessage
			json.Unmarshal(b, &raw)
			els, ok := jsonArray(b, v)
			if !ok || len(els) != len(raw) {
				t.Fatalf("jsonArray(%q) = %v, %v; encoding/json has %d elements", b, els, ok, len(raw))
			}
			for i, sp := range els {
				if !bytes.Equal(b[sp.start:sp.end], raw[i]) {
					t.Fatalf("jsonArray(%q)[%d] = %q, encoding/json %q", b, i, b[sp.start:sp.end], raw[i])
				}
			}
		case string:
			got, ok := jsonString(b, v)
			if !ok || string(got) != r {
				t.Fatalf("jsonString(%q) = %q, %v; encoding/json %q", b, got, ok, r)
			}
		}
	})
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"plain", "q\"b\\s\n\t\x01", "é✓", "\xff\xfe", "\u2028"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		enc := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(enc, &got); err != nil || got != string([]rune(string(s))) {
			t.Fatalf("appendJSONString(%q) = %s, decodes to %q, %v", s, enc, got, err)
		}
	})
}

// repeatsName says whether the object b has two members of one name.
func repeatsName(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	seen := map[string]bool{}
	depth := 0
	key := true
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			if depth > 1 {
				key = false
			}
			continue
		case json.Delim('}'), json.Delim(']'):
			depth--
			if depth == 1 {
				key = true
			}
			continue
		}
		if depth != 1 {
			continue
		}
		if key {
			s := tok.(string)
			if seen[s] {
				return true
			}
			seen[s] = true
			key = false
		} else {
			key = true
		}
	}
}
