package proxy

import (
	"bufio"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/clemhq/clem/pipelock/internal/ssrf"
	"github.com/clemhq/clem/shared/audit"
)

// handleTransparent serves a connection that nftables redirected here. The
// port comes from the original destination; the host from the TLS SNI or the
// HTTP Host header. The name is then resolved and checked like any other:
// the address the client aimed at is never trusted. From there a TLS
// connection takes the tunnel path the explicit proxy's CONNECT does.
func (s *Server) handleTransparent(c net.Conn) {
	cfg := s.cfg.Load()
	orig, err := originalDst(c)
	if err != nil {
		who := caller{policy: cfg.Default, name: "unknown"}
		s.finish(s.newRecord(who, time.Now()), audit.Deny, "no original destination: "+err.Error(), err)
		return
	}
	who := s.identifyCaller(c, orig, cfg)
	if who.lookupFailed {
		s.Stats.LookupErrors.Add(1)
	}
	release := s.admit(c, who, false)
	if release == nil {
		return
	}
	defer release()
	rec := s.newRecord(who, time.Now())
	port := int(orig.Port())
	lim := &headerLimit{r: c, n: int64(cfg.MaxHeaderBytes)}
	br := bufio.NewReaderSize(lim, 4096)
	c.SetReadDeadline(time.Now().Add(cfg.Hello))
	b, err := br.Peek(1)
	if err != nil {
		s.finish(rec, audit.Deny, "client sent nothing", err)
		return
	}
	if b[0] != 0x16 {
		req, err := http.ReadRequest(br)
		c.SetReadDeadline(time.Time{})
		lim.n = math.MaxInt64
		if err != nil {
			s.refuse(c, rec, http.StatusBadRequest, "not TLS and not HTTP: "+err.Error(), "request")
			return
		}
		rec.Method = req.Method
		host, _, err := ssrf.Canonical(hostOnly(req.Host))
		if err != nil || req.Host == "" {
			s.refuse(c, rec, http.StatusBadRequest, fmt.Sprintf("bad Host header %q", req.Host), "request")
			return
		}
		rec.Target = net.JoinHostPort(host, strconv.Itoa(port))
		req.URL.Scheme, req.URL.Host = "http", rec.Target
		s.relayHTTP(c, who, rec, req, host, port)
		return
	}
	hello, reason, err := checkSNIAny(br)
	c.SetReadDeadline(time.Time{})
	lim.n = math.MaxInt64
	rec.SNI = hello.sni
	if reason != "" {
		s.finish(rec, audit.Deny, reason, err)
		return
	}
	host, _, _ := ssrf.Canonical(hello.sni)
	rec.Method = "TLS"
	rec.Target = net.JoinHostPort(host, strconv.Itoa(port))
	s.runTunnel(&tunnel{c: c, br: br, who: who, rec: rec, host: host, port: port, hello: hello.raw})
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// originalDst asks netfilter where the connection was headed before the
// redirect (SO_ORIGINAL_DST, IPv4; IP6T_SO_ORIGINAL_DST, IPv6).
func originalDst(c net.Conn) (netip.AddrPort, error) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("not a TCP connection")
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return netip.AddrPort{}, err
	}
	var ap netip.AddrPort
	var serr error
	is6 := netip.MustParseAddrPort(c.LocalAddr().String()).Addr().Unmap().Is6()
	err = raw.Control(func(fd uintptr) {
		if is6 {
			// The kernel answers with a sockaddr_in6 too large for the
			// IPv6Mreq helper; IPv6 redirect is refused until it is needed.
			serr = fmt.Errorf("IPv6 transparent mode is not supported; use the explicit proxy")
			return
		}
		var mreq *unix.IPv6Mreq
		mreq, serr = unix.GetsockoptIPv6Mreq(int(fd), unix.IPPROTO_IP, unix.SO_ORIGINAL_DST)
		if serr == nil {
			m := mreq.Multiaddr
			port := uint16(m[2])<<8 | uint16(m[3])
			ap = netip.AddrPortFrom(netip.AddrFrom4([4]byte{m[4], m[5], m[6], m[7]}), port)
		}
	})
	if err != nil {
		return netip.AddrPort{}, err
	}
	return ap, serr
}
