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
	add("CGNAT", "100.64.0.0/10")
	add("multicast", "224.0.0.0/4", "ff00::/8")
	add("reserved", "240.0.0.0/4", "192.0.0.0/24", "198.18.0.0/15")
	return cs
}()

// Class returns the blocked class of a, or "" if a is a public address.
// IPv4-mapped, NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses are
// judged by the IPv4 address they carry.
func Class(a netip.Addr) string {
	a = a.Unmap()
	for _, c := range blocked {
		if c.prefix.Contains(a) {
			return c.name
		}
	}
	if a.Is6() {
		b := a.As16()
		if netip.MustParsePrefix("64:ff9b::/96").Contains(a) {
			return Class(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
		}
		if netip.MustParsePrefix("2002::/16").Contains(a) {
			return Class(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
		}
	}
	return ""
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
