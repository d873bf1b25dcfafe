// Package ssrf keeps the proxy from being turned against the host's own
// network: it canonicalises target names (odd IP spellings included),
// resolves once, refuses internal address classes and dials exactly the
// addresses it checked. Only pipelock imports it.
package ssrf

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/clemhq/clem/shared/hostpattern"
)

// Canonical returns the canonical form of a target host and whether it is
// an IP address. IPv4 in any inet_aton spelling (0x7f.1, 2130706433,
// 0177.0.0.1, 127.1) becomes dotted decimal; IPv6 loses its brackets and
// zone-less form is normalised; names become lower-case ASCII without a
// trailing dot.
func Canonical(host string) (string, bool, error) {
	h := strings.TrimSuffix(host, ".")
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
		a, err := netip.ParseAddr(h)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", false, fmt.Errorf("%q is not an IPv6 address", host)
		}
		return a.String(), true, nil
	}
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" {
			return "", false, errors.New("zoned IPv6 addresses are not allowed")
		}
		return a.Unmap().String(), true, nil
	}
	if a, ok := parseInetAton(h); ok {
		return a.String(), true, nil
	}
	c, err := hostpattern.CanonicalHost(h)
	if err != nil {
		return "", false, err
	}
	return c, false, nil
}

// parseInetAton accepts the legacy IPv4 spellings that resolvers and curl
// still honour: 1 to 4 parts, each decimal, octal (leading 0) or hex (0x).
func parseInetAton(s string) (netip.Addr, bool) {
	if s == "" {
		return netip.Addr{}, false
	}
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		v, ok := parseNum(p)
		if !ok {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var n uint64
	last := len(vals) - 1
	for i := 0; i < last; i++ {
		if vals[i] > 255 {
			return netip.Addr{}, false
		}
		n |= vals[i] << (24 - 8*i)
	}
	if vals[last] >= 1<<(32-8*last) {
		return netip.Addr{}, false
	}
	n |= vals[last]
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

func parseNum(p string) (uint64, bool) {
	if p == "" {
		return 0, false
	}
	base, digits := 10, p
	switch {
	case len(p) > 2 && (p[:2] == "0x" || p[:2] == "0X"):
		base, digits = 16, p[2:]
	case p == "0x" || p == "0X":
		return 0, true
	case len(p) > 1 && p[0] == '0':
		base, digits = 8, p[1:]
	}
	v, err := strconv.ParseUint(digits, base, 32)
	return v, err == nil
}
