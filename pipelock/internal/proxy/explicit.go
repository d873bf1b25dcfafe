package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"github.com/clemhq/clem/pipelock/internal/ssrf"
)

// handleExplicit serves one client connection: requests until it closes,
// a CONNECT tunnel takes the connection over. The caller is named and
// admitted under its connection cap before a byte is read. Each request's
// first byte may take upstream.idle_timeout to come (the first request's
// only limits.header_timeout: a connection that sends nothing is worth
// nothing); from there its line and headers must arrive within
// limits.header_timeout and limits.max_header_bytes, so a slow or endless
// header (slowloris) costs the caller its own slot, not anyone else's.
func (s *Server) handleExplicit(c net.Conn) {
	cfg := s.cfg.Load()
	local, _ := netip.ParseAddrPort(c.LocalAddr().String())
	who := s.identifyCaller(c, local, cfg)
	release := s.admit(c, who, true)
	if release == nil {
		return
	}
	defer release()
	lim := &headerLimit{r: c}
	br := bufio.NewReaderSize(lim, 4096)
	for first := true; ; first = false {
		wait := cfg.Idle
		if first {
			wait = cfg.HeaderTimeout
		}
		c.SetReadDeadline(time.Now().Add(wait))
		lim.n = int64(cfg.MaxHeaderBytes) + int64(br.Buffered())
		if _, err := br.Peek(1); err != nil {
			// A client that leaves between requests (EOF, reset, idle
			// timeout) is not a refusal.
			return
		}
		c.SetReadDeadline(time.Now().Add(cfg.HeaderTimeout))
		req, err := http.ReadRequest(br)
		lim.n = math.MaxInt64
		if err != nil {
			rec := s.newRecord(who, time.Now())
			switch {
			case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET):
				// It left mid-request: nothing to answer.
			case isTimeout(err):
				s.Stats.HeaderTimeouts.Add(1)
				c.SetWriteDeadline(time.Now().Add(refuseWriteTimeout))
				s.refuse(c, rec, http.StatusRequestTimeout, fmt.Sprintf("request headers not complete within %s", cfg.HeaderTimeout), RuleHeaderTimeout)
			case errors.Is(err, errHeaderTooLarge):
				c.SetWriteDeadline(time.Now().Add(refuseWriteTimeout))
				s.refuse(c, rec, http.StatusRequestHeaderFieldsTooLarge, fmt.Sprintf("request line and headers larger than %d bytes", cfg.MaxHeaderBytes), RuleHeaderBytes)
			default:
				s.refuse(c, rec, http.StatusBadRequest, "bad request: "+err.Error(), "request")
			}
			return
		}
		c.SetReadDeadline(time.Time{})
		if who.lookupFailed {
			s.Stats.LookupErrors.Add(1) // counted once per connection that sent a request
			who.lookupFailed = false
		}
		if req.Method == http.MethodConnect {
			s.connect(c, br, who, req)
			return
		}
		if !s.forward(c, who, req) {
			return
		}
		cfg = s.cfg.Load() // a reload applies from the next request on
	}
}

// headerLimit caps how much a client may send before its request is
// complete; the limit is lifted for bodies and tunnels.
type headerLimit struct {
	r io.Reader
	n int64
}

var errHeaderTooLarge = errors.New("request headers larger than limits.max_header_bytes")

func (h *headerLimit) Read(p []byte) (int, error) {
	if h.n <= 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > h.n {
		p = p[:h.n]
	}
	n, err := h.r.Read(p)
	h.n -= int64(n)
	return n, err
}

// splitTarget parses "host:port" from a CONNECT request target.
func splitTarget(target string) (host string, port int, isIP bool, err error) {
	h, p, err := net.SplitHostPort(target)
	if err != nil {
		return "", 0, false, fmt.Errorf("CONNECT target %q is not host:port", target)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, false, fmt.Errorf("CONNECT target %q has no valid port", target)
	}
	host, isIP, err = ssrf.Canonical(h)
	if err != nil {
		return "", 0, false, fmt.Errorf("CONNECT target %q: %v", target, err)
	}
	return host, port, isIP, nil
}

// connect learns a CONNECT's target and runs the tunnel to it.
func (s *Server) connect(c net.Conn, br *bufio.Reader, who caller, req *http.Request) {
	rec := s.newRecord(who, time.Now())
	rec.Method = http.MethodConnect
	rec.Target = req.RequestURI
	host, port, isIP, err := splitTarget(req.RequestURI)
	if err != nil {
		s.refuse(c, rec, http.StatusBadRequest, err.Error(), "request")
		return
	}
	rec.Target = net.JoinHostPort(host, strconv.Itoa(port))
	s.runTunnel(&tunnel{c: c, br: br, who: who, rec: rec, host: host, port: port, explicit: true,
		checkSNI: s.cfg.Load().SNI && port == 443 && !isIP})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
