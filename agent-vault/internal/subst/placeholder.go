package subst

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// MinPlaceholderLen is the shortest placeholder NewEngine accepts: long
// enough that no request or response contains one by chance.
const MinPlaceholderLen = 16

// Redacted replaces, in an agent's responses, any secret that is not bound
// for that agent: it has no placeholder of its own to get back.
const Redacted = "__clem_redacted__"

// Placeholder is what one agent holds in place of one binding's secret.
type Placeholder struct {
	Value   string
	Agent   string
	Binding *Binding
}

// placeholder is a validated Placeholder.
type placeholder struct {
	value string
	agent string
	b     *binding
}

// PlaceholderFor returns a fresh placeholder,
// __clem_<agent>_<binding>_<16 hex digits>__. It names its agent and binding
// so that one found where it should not be (a log, a commit, a pasted
// transcript) says whose it was; the random part makes it unguessable, so
// one agent cannot forge another's. Characters outside [A-Za-z0-9_-] in the
// names become '-', keeping the placeholder free of anything that would need
// escaping in a header, URL or JSON string.
func PlaceholderFor(agent, binding string) string {
	var r [8]byte
	rand.Read(r[:]) // crypto/rand.Read never fails (it aborts the process instead)
	return "__clem_" + nameChars(agent) + "_" + nameChars(binding) + "_" + hex.EncodeToString(r[:]) + "__"
}

func nameChars(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	return string(b)
}

// checkPlaceholderValue keeps placeholders to URL-unreserved characters:
// such a placeholder reads the same raw, in a header, a query, a path, a form
// or a JSON string, so the agent never has to escape it, and a substitution
// can never straddle a separator such as '&', '/' or '"'.
func checkPlaceholderValue(v string) error {
	if len(v) < MinPlaceholderLen {
		return fmt.Errorf("placeholder is %d characters; at least %d are needed so none occurs by chance (use PlaceholderFor)", len(v), MinPlaceholderLen)
	}
	for i := 0; i < len(v); i++ {
		if !unreserved(v[i]) {
			return fmt.Errorf("placeholder has %q; use only letters, digits and - . _ ~ (use PlaceholderFor)", v[i])
		}
	}
	return nil
}
