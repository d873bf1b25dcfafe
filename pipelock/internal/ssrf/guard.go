package ssrf

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

type class struct {
	name   string
	prefix netip.Prefix
}

// blocked lists the address classes a proxy must never reach on a caller's
// behalf. Order matters only for the name reported: specific before general.
// IPv6 ranges with no IPv4 inside are refused here whole; the ones that carry
// an IPv4 address are judged by it (see embedded).
var blocked = func() []class {
	var cs []class
	add := func(name string, ps ...string) {
		for _, p := range ps {
			cs = append(cs, class{name, netip.MustParsePrefix(p)})
		}
	}
	add("cloud metadata", "169.254.169.254/32", "fd00:ec2::254/128", "100.100.100.200/32")
	add("unspecified", "0.0.0.0/8", "::/128")
	add("loopback", "127.0.0.0/8", "::1/128")
	add("private", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
	add("link-local", "169.254.0.0/16", "fe80::/10")
	add("site-local", "fec0::/10") // deprecated (RFC 3879) but still routed inside some sites
	add("CGNAT", "100.64.0.0/10")
	add("multicast", "224.0.0.0/4", "ff00::/8")
	add("discard", "100::/64") // RFC 6666: a black hole by design
	add("documentation", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20")
	add("benchmarking", "2001:2::/48")
	add("reserved", "240.0.0.0/4", "192.0.0.0/24", "198.18.0.0/15", "192.88.99.0/24")
	return cs
}()

// Translation and tunnelling prefixes whose addresses stand for an IPv4
// address: an attacker spells 127.0.0.1 or 169.254.169.254 this way to slip
// past a guard that only knows IPv4 classes.
var (
	ipv4Compatible = netip.MustParsePrefix("::/96")           // RFC 4291, deprecated
	ipv4Translated = netip.MustParsePrefix("::ffff:0:0:0/96") // SIIT, RFC 6145
	nat64WellKnown = netip.MustParsePrefix("64:ff9b::/96")    // RFC 6052
	nat64Local     = netip.MustParsePrefix("64:ff9b:1::/48")  // RFC 8215, local use
	sixToFour      = netip.MustParsePrefix("2002::/16")       // RFC 3056
	teredo         = netip.MustParsePrefix("2001::/32")       // RFC 4380
)

// Class returns the blocked class of a, or "" if a is a public address.
// IPv4-mapped, IPv4-compatible, IPv4-translated, NAT64 (both prefixes), 6to4
// and Teredo addresses are judged by every IPv4 address they carry.
func Class(a netip.Addr) string {
	a = a.Unmap()
	for _, c := range blocked {
		if c.prefix.Contains(a) {
			return c.name
		}
	}
	if !a.Is6() {
		return ""
	}
	// Where several positions are judged, zeros read as 0.0.0.0 in the
	// unused ones; name the class of the address that was meant, if any.
	worst := ""
	for _, v4 := range embedded(a) {
		if c := Class(v4); c != "" && (worst == "" || worst == "unspecified") {
			worst = c
		}
	}
	return worst
}

// embedded returns the IPv4 addresses an IPv6 address a stands for, if any.
func embedded(a netip.Addr) []netip.Addr {
	b := a.As16()
	v4 := func(i, j, k, l int) netip.Addr { return netip.AddrFrom4([4]byte{b[i], b[j], b[k], b[l]}) }
	switch {
	case ipv4Compatible.Contains(a), ipv4Translated.Contains(a), nat64WellKnown.Contains(a):
		return []netip.Addr{v4(12, 13, 14, 15)}
	case nat64Local.Contains(a):
		// The operator picks the prefix length inside the /48 (RFC 6052
		// section 2.2: /48, /56, /64 or /96, skipping bits 64-71), and we
		// cannot know which, so every position is judged.
		return []netip.Addr{v4(6, 7, 9, 10), v4(7, 9, 10, 11), v4(9, 10, 11, 12), v4(12, 13, 14, 15)}
	case sixToFour.Contains(a):
		return []netip.Addr{v4(2, 3, 4, 5)}
	case teredo.Contains(a):
		// The server's address in the clear, the client's inverted.
		return []netip.Addr{v4(4, 5, 6, 7), netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]})}
	}
	return nil
}

// Check refuses a if it is in a blocked class not covered by allow.
func Check(a netip.Addr, allow []netip.Prefix) error {
	c := Class(a)
	if c == "" {
		return nil
	}
	for _, p := range allow {
		if p.Contains(a.Unmap()) {
			return nil
		}
	}
	return fmt.Errorf("%s address %s", c, a.Unmap())
}

// Resolver looks up a host's addresses (net.DefaultResolver in production).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Dialer resolves once, refuses the whole target if any address is in a
// blocked class (a name that mixes public and private answers is a DNS
// rebinding attempt), and dials the checked addresses in turn.
type Dialer struct {
	Resolver Resolver
	Timeout  time.Duration
}

// ErrBlocked marks a refusal by the guard.
var ErrBlocked = errors.New("ssrf guard")

// Resolve returns host's addresses after the check. An IP-literal host is
// checked as is.
func (d *Dialer) Resolve(ctx context.Context, host string, allow []netip.Prefix) ([]netip.Addr, error) {
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		r := d.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		addrs, err = r.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("resolve %s: no addresses", host)
		}
	}
	for _, a := range addrs {
		if err := Check(a, allow); err != nil {
			return nil, fmt.Errorf("%w: %s is a %v", ErrBlocked, host, err)
		}
	}
	return addrs, nil
}

// WithPort pairs each address with port.
func WithPort(addrs []netip.Addr, port int) []netip.AddrPort {
	out := make([]netip.AddrPort, len(addrs))
	for i, a := range addrs {
		out[i] = netip.AddrPortFrom(a.Unmap(), uint16(port))
	}
	return out
}

// DialAddrs connects to the first of addrs that answers.
func (d *Dialer) DialAddrs(ctx context.Context, addrs []netip.AddrPort) (net.Conn, netip.AddrPort, error) {
	nd := net.Dialer{Timeout: d.Timeout}
	var errs []error
	for _, ap := range addrs {
		c, err := nd.DialContext(ctx, "tcp", ap.String())
		if err == nil {
			return c, ap, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, netip.AddrPort{}, errors.Join(errs...)
}
