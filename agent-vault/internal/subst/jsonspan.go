package subst

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// This file finds where values sit in a JSON text, so the delta layer can
// rewrite one string in an event and leave every other byte as it was.
// encoding/json decodes but does not say where a value was; these helpers
// only locate, in text json.Valid has already accepted, and leave decoding
// to encoding/json.

// jspan is a value's bytes in a JSON text: b[start:end].
type jspan struct{ start, end int }

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the end of the string literal starting at b[i] ('"').
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// skipValue returns the end of the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipString(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	j := i
	for ; j < len(b); j++ {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return j
		}
	}
	return j
}

// jmember is one member of a JSON object: its decoded name and its value.
type jmember struct {
	name []byte
	val  jspan
}

// jobject is an object's members in order.
type jobject []jmember

// get returns the value of the member named name. ok is false if there is
// none, or more than one: parsers disagree on which of two equal names wins
// (JavaScript takes the last), so such a member is not read at all.
func (o jobject) get(name string) (v jspan, ok bool) {
	for _, m := range o {
		if string(m.name) == name {
			if ok {
				return jspan{}, false
			}
			v, ok = m.val, true
		}
	}
	return v, ok
}

// jsonObject returns the members of the object at v; ok is false if v is
// not an object.
func jsonObject(b []byte, v jspan) (jobject, bool) {
	i := v.start
	if i >= v.end || b[i] != '{' {
		return nil, false
	}
	var o jobject
	i = skipSpace(b, i+1)
	if i < v.end && b[i] == '}' {
		return o, true
	}
	for i < v.end && b[i] == '"' {
		kEnd := skipString(b, i)
		name, ok := jsonString(b, jspan{i, kEnd})
		if !ok {
			return nil, false
		}
		i = skipSpace(b, kEnd)
		if i >= v.end || b[i] != ':' {
			return nil, false
		}
		i = skipSpace(b, i+1)
		end := skipValue(b, i)
		o = append(o, jmember{name, jspan{i, end}})
		i = skipSpace(b, end)
		if i < v.end && b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		return o, i < v.end && b[i] == '}'
	}
	return nil, false
}

// jsonArray returns the elements of the array at v.
func jsonArray(b []byte, v jspan) ([]jspan, bool) {
	i := v.start
	if i >= v.end || b[i] != '[' {
		return nil, false
	}
	var out []jspan
	i = skipSpace(b, i+1)
	if i < v.end && b[i] == ']' {
		return out, true
	}
	for i < v.end {
		end := skipValue(b, i)
		out = append(out, jspan{i, end})
		i = skipSpace(b, end)
		if i < v.end && b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		return out, i < v.end && b[i] == ']'
	}
	return nil, false
}

// jsonString decodes the string at v as a JSON parser would (invalid UTF-8
// and lone surrogates become U+FFFD). ok is false if v is not a string.
func jsonString(b []byte, v jspan) ([]byte, bool) {
	if v.end-v.start < 2 || b[v.start] != '"' {
		return nil, false
	}
	raw := b[v.start+1 : v.end-1]
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return raw, true
	}
	var s string
	if json.Unmarshal(b[v.start:v.end], &s) != nil {
		return nil, false
	}
	return []byte(s), true
}

// jsonInt reads the integer at v; ok is false for anything else.
func jsonInt(b []byte, v jspan) (int64, bool) {
	n, err := strconv.ParseInt(string(b[v.start:v.end]), 10, 64)
	return n, err == nil
}

// appendJSONString appends s as a JSON string literal, escaping only what
// JSON requires; invalid UTF-8 becomes \ufffd, as a parser would read it.
func appendJSONString(dst, s []byte) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	for len(s) > 0 {
		r, n := utf8.DecodeRune(s)
		switch {
		case r == utf8.RuneError && n == 1:
			dst = append(dst, `\ufffd`...)
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r == '\n':
			dst = append(dst, '\\', 'n')
		case r == '\r':
			dst = append(dst, '\\', 'r')
		case r == '\t':
			dst = append(dst, '\\', 't')
		case r < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&15])
		default:
			dst = append(dst, s[:n]...)
		}
		s = s[n:]
	}
	return append(dst, '"')
}
