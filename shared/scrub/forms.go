package scrub

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"unicode/utf8"
)

// minCoreLen is the shortest unaligned base64 fragment worth looking for;
// shorter ones would match ordinary base64 text by chance.
const minCoreLen = 8

// Forms lists the forms of s a Scrubber looks for (some may repeat):
//
//   - s itself;
//   - base64, standard and URL alphabets, padded and not;
//   - the part of s's base64 that does not depend on its neighbours when s
//     sits 0, 1 or 2 bytes into a 3-byte group of a longer base64 text (as
//     in Basic credentials "user:secret"), when at least minCoreLen long;
//   - hex, lower and upper case;
//   - percent-encoded: every byte but the unreserved ones, as Go's
//     url.QueryEscape and as url.PathEscape write it;
//
// and each of those escaped as the inside of a JSON string: plainly, with
// '/' as `\/`, and as Go's encoder writes it ('<' as \u003c); then each JSON
// form escaped once more, for JSON text quoted inside a JSON string (a tool
// result holding a JSON document).
func Forms(s []byte) [][]byte {
	base := [][]byte{s}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		base = append(base, []byte(enc.EncodeToString(s)))
	}
	// Inside a longer base64 text the secret starts 0, 1 or 2 bytes into a
	// 3-byte group; the characters whose 6 bits all come from the secret are
	// the same whatever surrounds it.
	for shift := 0; shift < 3; shift++ {
		for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
			full := enc.EncodeToString(append(make([]byte, shift), s...))
			first, end := (8*shift+5)/6, (8*shift+8*len(s))/6
			if end-first >= minCoreLen {
				base = append(base, []byte(full[first:end]))
			}
		}
	}
	h := hex.EncodeToString(s)
	base = append(base, []byte(h), upperASCII([]byte(h)))
	base = append(base, strictEscape(s), []byte(url.QueryEscape(string(s))), []byte(url.PathEscape(string(s))))

	out := append([][]byte(nil), base...)
	once := jsonForms(base)
	out = append(out, once...)
	out = append(out, jsonForms(once)...)
	return out
}

// jsonForms returns the JSON-string escapes of each of in that is valid
// UTF-8 and changes when escaped.
func jsonForms(in [][]byte) [][]byte {
	var out [][]byte
	for _, f := range in {
		if !utf8.Valid(f) {
			continue
		}
		j := jsonEscape(f)
		for _, v := range [][]byte{j, replaceAll(j, '/', `\/`), goJSON(f)} {
			if string(v) != string(f) {
				out = append(out, v)
			}
		}
	}
	return out
}

// goJSON is f as Go's encoder writes it inside a string: '<', '>', '&',
// U+2028 and U+2029 as \u escapes.
func goJSON(f []byte) []byte {
	m, err := json.Marshal(string(f))
	if err != nil {
		return nil
	}
	return m[1 : len(m)-1]
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

func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// strictEscape percent-encodes every byte but the unreserved ones (RFC
// 3986), upper-case hex: what most encoders other than Go's write.
func strictEscape(b []byte) []byte {
	const hexDigits = "0123456789ABCDEF"
	out := make([]byte, 0, len(b)*3)
	for _, c := range b {
		if unreserved(c) {
			out = append(out, c)
		} else {
			out = append(out, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return out
}

// jsonEscape encodes b (valid UTF-8) as the inside of a JSON string, the
// way most encoders do: quote, backslash and control characters only.
func jsonEscape(b []byte) []byte {
	const hexDigits = "0123456789abcdef"
	out := make([]byte, 0, len(b)+8)
	for _, c := range b {
		switch c {
		case '"':
			out = append(out, '\\', '"')
		case '\\':
			out = append(out, '\\', '\\')
		case '\n':
			out = append(out, '\\', 'n')
		case '\r':
			out = append(out, '\\', 'r')
		case '\t':
			out = append(out, '\\', 't')
		case '\b':
			out = append(out, '\\', 'b')
		case '\f':
			out = append(out, '\\', 'f')
		default:
			if c < 0x20 {
				out = append(out, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			} else {
				out = append(out, c)
			}
		}
	}
	return out
}
