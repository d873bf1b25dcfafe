package ssrf

import (
	"context"
	"net"
	"net/netip"
)

// StaticResolver answers from a fixed table (host -> addresses), so tests
// can exercise the guard without sending a DNS query anywhere.
type StaticResolver map[string][]string

// LookupNetIP implements Resolver.
func (s StaticResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range s[host] {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return nil, &net.DNSError{Err: "bad table entry " + a, Name: host}
		}
		out = append(out, ip)
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return out, nil
}
