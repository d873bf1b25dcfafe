package subst

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// NormalizePath returns the decoded, canonical form of an escaped request
// path, the form path prefixes are compared against: percent-decoded once,
// "." and ".." resolved (RFC 3986 remove_dot_segments) and "//" collapsed, so
// "/api/../oauth" and "/api/%2e%2e/oauth" both become "/oauth".
//
// It refuses paths that servers read in more than one way, since the vault
// and the upstream must agree on which path a secret goes to: an encoded
// slash or backslash (%2F, %5C), any backslash, a NUL, a ".." above the
// root, a double-encoded dot, slash or backslash (%252e), a dot segment with
// parameters ("..;x", which Java servers treat as ".."), invalid
// percent-encoding and invalid UTF-8 (overlong forms of '.' and '/'). The
// empty path is "/".
func NormalizePath(p string) (string, error) {
	dec, _, err := normalizePath(p)
	return dec, err
}

// normalizePath returns the normalised path both decoded and escaped; the
// escaped form keeps each surviving segment exactly as the client wrote it,
// so forwarding it changes only what normalisation removed.
func normalizePath(p string) (dec, esc string, err error) {
	if p == "" {
		return "/", "/", nil
	}
	if p[0] != '/' {
		return "", "", errors.New("the path does not start with /")
	}
	if doubleEncoded(p) {
		return "", "", errors.New("the path has a double-encoded dot, slash or backslash (%25 before 2e, 2f or 5c)")
	}
	parts := strings.Split(p[1:], "/")
	type seg struct{ dec, esc string }
	out := make([]seg, 0, len(parts))
	// remove_dot_segments keeps a trailing slash after "/", "/." and "/..";
	// only the last segment's value of trailing survives the loop.
	trailing := false
	for _, part := range parts {
		d, err := unescapeSegment(part)
		if err != nil {
			return "", "", err
		}
		trailing = d == "" || d == "." || d == ".."
		switch d {
		case "", ".":
		case "..":
			if len(out) == 0 {
				return "", "", errors.New("the path climbs above the root with ..")
			}
			out = out[:len(out)-1]
		default:
			if i := strings.IndexByte(d, ';'); i >= 0 && (d[:i] == "." || d[:i] == "..") {
				return "", "", errors.New("the path has a dot segment with parameters (..;), which some servers resolve as ..")
			}
			out = append(out, seg{d, part})
		}
	}
	var db, eb strings.Builder
	for _, s := range out {
		db.WriteByte('/')
		db.WriteString(s.dec)
		eb.WriteByte('/')
		eb.WriteString(s.esc)
	}
	if len(out) == 0 || trailing {
		db.WriteByte('/')
		eb.WriteByte('/')
	}
	return db.String(), eb.String(), nil
}

// unescapeSegment percent-decodes one segment strictly.
func unescapeSegment(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '\\') < 0 && strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) || !ishex(s[i+1]) || !ishex(s[i+2]) {
				return "", errors.New("the path has invalid percent-encoding")
			}
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
			if c == '/' {
				return "", errors.New("the path has an encoded slash (%2F), which servers split differently")
			}
		}
		switch c {
		case '\\':
			return "", errors.New("the path has a backslash, which some servers read as /")
		case 0:
			return "", errors.New("the path has a NUL")
		}
		b = append(b, c)
	}
	if !utf8.Valid(b) {
		return "", errors.New("the path is not valid UTF-8 once decoded")
	}
	return string(b), nil
}

func doubleEncoded(p string) bool {
	if !strings.Contains(p, "%25") {
		return false
	}
	l := strings.ToLower(p)
	return strings.Contains(l, "%252e") || strings.Contains(l, "%252f") || strings.Contains(l, "%255c")
}

// underPrefix compares whole segments: "/v1" covers "/v1" and "/v1/x" but
// not "/v10". Both arguments are normalised; prefix has no trailing slash.
func underPrefix(path, prefix string) bool {
	if prefix == "/" {
		return true
	}
	return strings.HasPrefix(path, prefix) && (len(path) == len(prefix) || path[len(prefix)] == '/')
}
