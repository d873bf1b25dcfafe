// Package hostpattern parses and matches the host patterns used for egress
// allow-lists and secret bindings: "host" matches exactly that host, and
// "*.host" matches any subdomain of host but not host itself. A wildcard
// directly under a public suffix ("*.com", "*.github.io") is refused, since it
// would admit hosts owned by anyone. Any binary may import it.
package hostpattern

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// Pattern is a validated, canonical (lower-case ASCII, no trailing dot) host
// pattern.
type Pattern struct {
	host     string // without the "*." prefix
	wildcard bool
}

// String returns the canonical form, e.g. "*.anthropic.com".
func (p Pattern) String() string {
	if p.wildcard {
		return "*." + p.host
	}
	return p.host
}

// Parse validates s and returns its canonical pattern. Unicode names are
// converted to their ASCII (punycode) form.
func Parse(s string) (Pattern, error) {
	if s == "" {
		return Pattern{}, errors.New("empty host pattern; write a host (github.com) or *.host (*.github.com)")
	}
	if s == "*" || s == "*." {
		return Pattern{}, fmt.Errorf("%q would allow every host; list the hosts, or *.host for a host's subdomains", s)
	}
	wild := strings.HasPrefix(s, "*.")
	rest := strings.TrimPrefix(s, "*.")
	if strings.Contains(rest, "*") {
		return Pattern{}, fmt.Errorf("%q: a wildcard may only stand alone as the first label, as in *.example.com", s)
	}
	host, err := canonical(rest, wild)
	if err != nil {
		return Pattern{}, fmt.Errorf("%q: %w", s, err)
	}
	if wild {
		if ps, _ := publicsuffix.PublicSuffix(host); ps == host {
			return Pattern{}, fmt.Errorf("%q is a wildcard directly under the public suffix %q, which would allow hosts anyone can register; name the registrable domain, as in *.example.%s", s, host, host)
		}
	}
	return Pattern{host: host, wildcard: wild}, nil
}

// CanonicalHost validates a DNS host name (not an IP address, no port) and
// returns it in lower-case ASCII without a trailing dot.
func CanonicalHost(s string) (string, error) { return canonical(s, false) }

// canonical validates a host; a wildcard's base may be a single label (so
// that "*.com" is refused for the right reason).
func canonical(s string, singleLabelOK bool) (string, error) {
	h := strings.TrimSuffix(s, ".")
	if !utf8.ValidString(h) {
		return "", errors.New("not valid UTF-8")
	}
	if h == "" {
		return "", errors.New("empty host name")
	}
	if strings.ContainsAny(h, ":/@ \t") {
		if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
			return "", errors.New("an IP address is not a host name; name the host")
		}
		return "", errors.New("not a host name: write the bare host, without scheme, port, path or spaces")
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return "", errors.New("an IP address is not a host name; name the host")
	}
	a, err := idna.Lookup.ToASCII(h)
	if err != nil {
		return "", fmt.Errorf("not a valid host name: %v", err)
	}
	if len(a) > 253 {
		return "", errors.New("host name longer than 253 characters")
	}
	labels := strings.Split(a, ".")
	if len(labels) < 2 && !singleLabelOK {
		return "", errors.New("a single-label name is not a fully qualified host; write the full name, such as example.com")
	}
	for _, l := range labels {
		if err := checkLabel(l); err != nil {
			return "", err
		}
	}
	if isAllDigits(labels[len(labels)-1]) {
		return "", errors.New("looks like an IP address, not a host name")
	}
	return a, nil
}

func checkLabel(l string) error {
	if l == "" || len(l) > 63 {
		return fmt.Errorf("label %q must be 1 to 63 characters", l)
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return fmt.Errorf("label %q may not start or end with a hyphen", l)
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("label %q has %q; use letters, digits and hyphens", l, c)
		}
	}
	return nil
}

func isAllDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Match reports whether host (already canonical: lower case, no trailing dot)
// matches p.
func (p Pattern) Match(host string) bool {
	if !p.wildcard {
		return host == p.host
	}
	return len(host) > len(p.host)+1 && strings.HasSuffix(host, p.host) && host[len(host)-len(p.host)-1] == '.'
}

// List is a set of patterns.
type List []Pattern

// ParseList parses every pattern, returning the first error.
func ParseList(ss []string) (List, error) {
	l := make(List, 0, len(ss))
	for _, s := range ss {
		p, err := Parse(s)
		if err != nil {
			return nil, err
		}
		l = append(l, p)
	}
	return l, nil
}

// Match returns the first pattern that matches host.
func (l List) Match(host string) (Pattern, bool) {
	for _, p := range l {
		if p.Match(host) {
			return p, true
		}
	}
	return Pattern{}, false
}
