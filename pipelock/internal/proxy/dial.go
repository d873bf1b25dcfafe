package proxy

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/clemhq/clem/pipelock/internal/ssrf"
	"github.com/clemhq/clem/shared/audit"
)

// dialTarget resolves host (or takes its resolve override), runs the SSRF
// guard and dials a checked address, recording it in rec.
func (s *Server) dialTarget(ctx context.Context, rec *audit.Record, who caller, host string, port int) (net.Conn, error) {
	addrs, err := s.resolve(ctx, who, host, port)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Load().Dial)
	defer cancel()
	c, ap, err := s.dialer.DialAddrs(ctx, addrs)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %v", net.JoinHostPort(host, strconv.Itoa(port)), err)
	}
	rec.Dialed = ap.String()
	return c, nil
}

// resolve returns the checked addresses for host:port. A resolve override
// is the operator's own pin and skips DNS and the guard; nothing else does.
func (s *Server) resolve(ctx context.Context, who caller, host string, port int) ([]netip.AddrPort, error) {
	if ap, ok := s.cfg.Load().Resolve[net.JoinHostPort(host, strconv.Itoa(port))]; ok {
		return []netip.AddrPort{ap}, nil
	}
	addrs, err := s.dialer.Resolve(ctx, host, who.policy.AllowRanges)
	if err != nil {
		return nil, err
	}
	return ssrf.WithPort(addrs, port), nil
}
