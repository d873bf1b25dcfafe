package config

import (
	"fmt"
	"strings"
)

// expand replaces ${VAR} and ${VAR:-default} in s using lookup. "$$" is a
// literal "$"; a "$" not followed by "{" or "$" is kept as is. A default may
// itself contain ${...}. An unset variable without a default is an error: a
// silently empty server id or channel is worse than a refusal.
func expand(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := closingBrace(s, i+2)
			if end < 0 {
				return "", fmt.Errorf("%q has a ${ without its closing }", s)
			}
			v, err := expandRef(s[i+2:end], lookup)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			i = end
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// closingBrace returns the index of the "}" that closes a "${" whose body
// starts at from, allowing nested ${...} in defaults; -1 if there is none.
func closingBrace(s string, from int) int {
	depth := 1
	for j := from; j < len(s); j++ {
		switch {
		case s[j] == '{' && j > 0 && s[j-1] == '$':
			depth++
		case s[j] == '}':
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

func expandRef(body string, lookup func(string) (string, bool)) (string, error) {
	name, def, hasDef := strings.Cut(body, ":-")
	if !validVarName(name) {
		return "", fmt.Errorf("${%s} is not a valid variable reference; write ${NAME} or ${NAME:-default} with NAME made of A-Z, a-z, 0-9 and _", body)
	}
	if v, ok := lookup(name); ok && (v != "" || !hasDef) {
		return v, nil
	}
	if hasDef {
		return expand(def, lookup)
	}
	return "", fmt.Errorf("${%s} is not set; export %s, or write ${%s:-default}", name, name, name)
}

func validVarName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
