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
			m, ok := jsonObject(b, v)
			want := orderedMembers(t, b)
			if !ok || len(m) != len(want) {
				t.Fatalf("jsonObject(%q) = %d members, %v; encoding/json reads %d", b, len(m), ok, len(want))
			}
			for i, mb := range m {
				if string(mb.name) != want[i].name || !bytes.Equal(b[mb.val.start:mb.val.end], want[i].raw) {
					t.Fatalf("jsonObject(%q)[%d] = %q: %q, encoding/json %q: %q", b, i, mb.name, b[mb.val.start:mb.val.end], want[i].name, want[i].raw)
				}
			}
			for _, mb := range m {
				_, ok := m.get(string(mb.name))
				if ok != (countName(want, string(mb.name)) == 1) {
					t.Fatalf("jsonObject(%q).get(%q) ok = %v with the name %d times", b, mb.name, ok, countName(want, string(mb.name)))
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

type member struct {
	name string
	raw  json.RawMessage
}

// orderedMembers reads the top-level object's members in order, repeated
// names included, with encoding/json.
func orderedMembers(t *testing.T, b []byte) []member {
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var out []member
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatal(err)
		}
		out = append(out, member{k.(string), raw})
	}
	return out
}

func countName(ms []member, name string) int {
	n := 0
	for _, m := range ms {
		if m.name == name {
			n++
		}
	}
	return n
}
