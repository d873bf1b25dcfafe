package subst

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds the encodings of each surface, in both directions:
// decoders that remember where each decoded byte came from, so a placeholder
// found in decoded text is replaced in the raw text and nothing around it
// changes, and encoders for the secret.

// span is a placeholder occurrence in raw (still encoded) text.
type span struct {
	start, end int
	ph         int // index into Engine.phs
}

func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func ishex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// strictEscape percent-encodes every byte but the unreserved ones. Space
// becomes %20 and '+' becomes %2B, so the secret decodes the same whether
// the server reads '+' as a space (forms, most query parsers) or not (RFC
// 3986), and '/' becomes %2F, so a secret never adds a path segment.
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

// jsonEscape encodes b (valid UTF-8) as the inside of a JSON string.
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

// headerSafe reports whether b may stand in a header value as it is: no
// control character but tab, so a secret can never end a header line and
// start another.
func headerSafe(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// decodePercent decodes %XX escapes (and '+' as space when plus is set),
// leniently: a '%' not followed by two hex digits stays as it is. src[i] is
// where decoded byte i starts in raw; src[len(dec)] is len(raw).
func decodePercent(raw []byte, plus bool) (dec []byte, src []int) {
	dec = make([]byte, 0, len(raw))
	src = make([]int, 0, len(raw)+1)
	for i := 0; i < len(raw); {
		c := raw[i]
		src = append(src, i)
		switch {
		case c == '%' && i+2 < len(raw) && ishex(raw[i+1]) && ishex(raw[i+2]):
			dec = append(dec, unhex(raw[i+1])<<4|unhex(raw[i+2]))
			i += 3
			continue
		case c == '+' && plus:
			c = ' '
		}
		dec = append(dec, c)
		i++
	}
	return dec, append(src, len(raw))
}

// decodeJSONString decodes the inside of a JSON string from a document that
// json.Valid accepted. Every byte of a multi-byte rune maps to the start of
// its escape; placeholders are ASCII, so a span never splits one.
func decodeJSONString(raw []byte) (dec []byte, src []int) {
	dec = make([]byte, 0, len(raw))
	src = make([]int, 0, len(raw)+1)
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' || i+1 >= len(raw) {
			dec, src = append(dec, c), append(src, i)
			i++
			continue
		}
		n := 2
		switch raw[i+1] {
		case 'u':
			r, w := rune(hex4(raw[i+2:])), 6
			if utf16.IsSurrogate(r) {
				if i+12 <= len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
					if d := utf16.DecodeRune(r, rune(hex4(raw[i+8:]))); d != utf8.RuneError {
						r, w = d, 12
					}
				}
				if w == 6 {
					r = utf8.RuneError
				}
			}
			before := len(dec)
			dec = utf8.AppendRune(dec, r)
			for range len(dec) - before {
				src = append(src, i)
			}
			i += w
			continue
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		default: // '"', '\\', '/'
			c = raw[i+1]
		}
		dec, src = append(dec, c), append(src, i)
		i += n
	}
	return dec, append(src, len(raw))
}

func hex4(b []byte) uint16 {
	var v uint16
	for i := 0; i < 4 && i < len(b); i++ {
		v = v<<4 | uint16(unhex(b[i]))
	}
	return v
}

// jsonStrings calls fn with the bounds of the inside of each string (keys
// too) in b, which json.Valid must have accepted: outside a string a '"'
// can only open one.
func jsonStrings(b []byte, fn func(start, end int)) {
	for i := 0; i < len(b); {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return
		}
		start := i + q + 1
		j := start
		for j < len(b) && b[j] != '"' {
			if b[j] == '\\' {
				j++
			}
			j++
		}
		if j > len(b) {
			j = len(b)
		}
		fn(start, j)
		i = j + 1
	}
}

// splice replaces each span (sorted, not overlapping) of raw with repl.
func splice(raw []byte, spans []span, repl []byte) []byte {
	out := make([]byte, 0, len(raw)+len(spans)*len(repl))
	pos := 0
	for _, s := range spans {
		out = append(out, raw[pos:s.start]...)
		out = append(out, repl...)
		pos = s.end
	}
	return append(out, raw[pos:]...)
}
