package audit

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// The encoder is hand-rolled rather than encoding/json because every
// connection writes a record: this one allocates nothing, emits keys in a
// fixed, readable order and writes time in TimeFormat.

// appendRecord appends r as one JSON object, without the newline. t and id
// stand in for r.Time and r.ConnID, which Write may have defaulted.
func appendRecord(b []byte, r *Record, t time.Time, id string) []byte {
	b = append(b, `{"`+FieldTime+`":"`...)
	b = t.UTC().AppendFormat(b, TimeFormat)
	b = append(b, `","`+FieldConnID+`":`...)
	b = appendString(b, id)
	b = appendField(b, FieldComponent, r.Component)
	b = appendField(b, FieldEvent, r.Event)
	b = append(b, `,"`+FieldDecision+`":"`...)
	if r.Decision == Allow {
		b = append(b, Allow...)
	} else {
		b = append(b, Deny...)
	}
	b = append(b, '"')
	b = appendField(b, FieldReason, r.Reason)
	b = appendField(b, FieldRule, r.Rule)

	b = appendField(b, FieldClient, r.Client)
	if r.UID != nil {
		b = appendKey(b, FieldUID)
		b = strconv.AppendUint(b, uint64(*r.UID), 10)
	}
	b = appendInt(b, FieldPID, int64(r.PID))
	b = appendField(b, FieldExe, r.Exe)
	b = appendField(b, FieldAgent, r.Agent)

	b = appendField(b, FieldMethod, r.Method)
	b = appendField(b, FieldTarget, r.Target)
	b = appendField(b, FieldDialed, r.Dialed)
	b = appendField(b, FieldSNI, r.SNI)
	b = appendField(b, FieldHost, r.Host)
	b = appendField(b, FieldPath, r.Path)
	b = appendField(b, FieldBinding, r.Binding)
	if len(r.Surfaces) > 0 {
		b = appendKey(b, FieldSurfaces)
		b = append(b, '[')
		for i, s := range r.Surfaces {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		b = append(b, ']')
	}
	b = appendField(b, FieldRepo, r.Repo)
	b = appendField(b, FieldRef, r.Ref)

	b = appendInt(b, FieldStatus, int64(r.Status))
	b = appendInt(b, FieldCount, r.Count)
	b = appendInt(b, FieldBytesUp, r.BytesUp)
	b = appendInt(b, FieldBytesDown, r.BytesDown)
	// NaN and ±Inf have no JSON form; dropping them beats an unparseable line.
	if d := r.DurationMS; d != 0 && !math.IsNaN(d) && !math.IsInf(d, 0) {
		b = appendKey(b, FieldDurationMS)
		b = appendFloat(b, d)
	}
	b = appendField(b, FieldError, r.Error)
	return append(b, '}')
}

func appendKey(b []byte, key string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

// appendField appends a string field, omitted when empty.
func appendField(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	return appendString(appendKey(b, key), v)
}

// appendInt appends an integer field, omitted when zero.
func appendInt(b []byte, key string, v int64) []byte {
	if v == 0 {
		return b
	}
	return strconv.AppendInt(appendKey(b, key), v, 10)
}

// appendFloat writes the shortest digits that parse back to f, switching to
// an exponent where plain digits would run long, as encoding/json does.
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	return strconv.AppendFloat(b, f, format, -1, 64)
}

const hexDigits = "0123456789abcdef"

// MaxFieldBytes bounds what one string field takes in a line, escapes
// included. Most fields carry what a peer sent (a CONNECT target, an SNI, a
// path, an error quoting either), and a record must not grow with them: a
// few long records would otherwise fill the log and rotate earlier records
// away. A clipped value ends in ClipMark and the number of input bytes cut.
const MaxFieldBytes = 1024

// ClipMark starts the note that ends a clipped value: "…[clipped 59392 bytes]".
const ClipMark = "…[clipped "

// appendString appends s as a JSON string, clipped to MaxFieldBytes of
// output. Values come from hostile peers (SNI, paths, exe names), so besides
// what JSON requires it escapes DEL and the C1 controls, which some
// terminals obey when an operator tails the log, and U+2028/U+2029, which
// end a line in JavaScript. Invalid UTF-8 becomes U+FFFD, one per bad byte,
// as encoding/json does.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	// An escape is at most 6 bytes, so short values need no measuring.
	if len(s)*6 <= MaxFieldBytes {
		b = appendEscaped(b, s)
		return append(b, '"')
	}
	cut := clipAt(s, MaxFieldBytes)
	b = appendEscaped(b, s[:cut])
	if cut < len(s) {
		b = append(b, ClipMark...)
		b = strconv.AppendInt(b, int64(len(s)-cut), 10)
		b = append(b, " bytes]"...)
	}
	return append(b, '"')
}

// clipAt returns the length of the longest prefix of s, ending on a whole
// character, whose escaped form fits in max bytes.
func clipAt(s string, max int) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		w, size := 1, 1
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t':
				w = 2
			case c < 0x20 || c == 0x7f:
				w = 6
			}
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && size == 1, r >= 0x80 && r <= 0x9f, r == '\u2028', r == '\u2029':
				w = 6
			default:
				w = size
			}
		}
		if n+w > max {
			return i
		}
		n += w
		i += size
	}
	return len(s)
}

// appendEscaped appends the body of s's JSON string, without quotes.
func appendEscaped(b []byte, s string) []byte {
	start := 0 // s[start:i] is pending, safe to copy as is
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r >= 0x80 && r <= 0x9f:
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xf])
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(b, s[start:]...)
}
