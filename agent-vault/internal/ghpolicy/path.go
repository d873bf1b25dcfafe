package ghpolicy

import (
	"fmt"
	"strings"
)

// normalizePath turns an escaped request path into segments the policy
// matches, or says why it refuses the path. It decodes only what every
// server decodes alike (percent-encoded unreserved characters), drops
// empty segments (GitHub's router ignores duplicate and trailing slashes),
// and refuses what servers disagree about or what only serves tricks: dot
// segments, encoded slashes and backslashes, double encoding, ';'
// parameters, control bytes, raw non-ASCII. A refused path costs an honest
// client nothing: git, gh and the API clients never send one.
func normalizePath(escaped string) (segs []string, refusal string) {
	if !strings.HasPrefix(escaped, "/") {
		return nil, fmt.Sprintf("path %s does not start with '/'", quote(escaped))
	}
	var b strings.Builder
	for i := 0; i < len(escaped); i++ {
		c := escaped[i]
		switch {
		case c <= ' ' || c >= 0x7f:
			return nil, fmt.Sprintf("path %s holds a control byte, space or raw non-ASCII byte", quote(escaped))
		case c == '\\' || c == ';' || c == '?' || c == '#':
			return nil, fmt.Sprintf("path %s holds %q, which servers read differently", quote(escaped), c)
		case c == '%':
			if i+2 >= len(escaped) || !isHex(escaped[i+1]) || !isHex(escaped[i+2]) {
				return nil, fmt.Sprintf("path %s holds a malformed %%-escape", quote(escaped))
			}
			v := unhex(escaped[i+1])<<4 | unhex(escaped[i+2])
			switch {
			case v < 0x20 || v == 0x7f:
				return nil, fmt.Sprintf("path %s encodes a control byte", quote(escaped))
			case v == '/' || v == '\\':
				return nil, fmt.Sprintf("path %s encodes a slash", quote(escaped))
			case v == '%':
				return nil, fmt.Sprintf("path %s encodes '%%' (double encoding)", quote(escaped))
			case v == ';':
				return nil, fmt.Sprintf("path %s encodes ';'", quote(escaped))
			case isUnreserved(v):
				b.WriteByte(v)
			default:
				fmt.Fprintf(&b, "%%%02X", v)
			}
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	for _, seg := range strings.Split(b.String(), "/") {
		switch seg {
		case "":
			continue
		case ".", "..":
			return nil, fmt.Sprintf("path %s has a dot segment", quote(escaped))
		}
		segs = append(segs, seg)
	}
	return segs, ""
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

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

func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
