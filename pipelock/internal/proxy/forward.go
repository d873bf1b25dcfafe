package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clemhq/clem/pipelock/internal/policy"
	"github.com/clemhq/clem/pipelock/internal/ssrf"
	"github.com/clemhq/clem/shared/audit"
)

// hopHeaders are connection-level headers a proxy must not pass on (RFC
// 9110 section 7.6.1), plus the caller's proxy credentials.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

type addrsKey struct{}

// writerPool recycles response writers, so a keep-alive connection does not
// allocate a fresh 32 KiB buffer for every forwarded request.
var writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 32<<10) }}

// forward relays one absolute-form HTTP request and its response, streaming
// both bodies. It reports whether the client connection may carry another
// request. Redirects go back to the client untouched.
func (s *Server) forward(c net.Conn, who caller, req *http.Request) bool {
	rec := s.newRecord(who, time.Now())
	rec.Method = req.Method
	if req.URL.Scheme != "http" || req.URL.Host == "" {
		s.refuse(c, rec, http.StatusBadRequest, "pipelock forwards absolute http:// URLs only; use CONNECT for HTTPS", "request")
		return false
	}
	h := req.URL.Hostname()
	port := 80
	if p := req.URL.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			s.refuse(c, rec, http.StatusBadRequest, "bad port in "+req.URL.Host, "request")
			return false
		}
		port = n
	}
	host, _, err := ssrf.Canonical(h)
	if err != nil {
		s.refuse(c, rec, http.StatusBadRequest, err.Error(), "request")
		return false
	}
	rec.Target = net.JoinHostPort(host, strconv.Itoa(port))
	return s.relayHTTP(c, who, rec, req, host, port)
}

// relayHTTP decides, dials and relays a plain HTTP request to host:port.
func (s *Server) relayHTTP(c net.Conn, who caller, rec *audit.Record, req *http.Request, host string, port int) bool {
	d := policy.Decide(who.policy, policy.Request{Kind: policy.PlainHTTP, Host: host, Port: port})
	rec.Rule = d.Rule
	if !d.Allow {
		s.refuse(c, rec, http.StatusForbidden, d.Reason, d.Rule)
		return false
	}
	if ld := s.limits.Admit(who.policy); !ld.Allow {
		s.refuse(c, rec, http.StatusTooManyRequests, ld.Reason, ld.Rule)
		return false
	}
	if s.auditDown(c, rec) {
		return false
	}
	addrs, err := s.resolve(req.Context(), who, host, port)
	if err != nil {
		code := http.StatusBadGateway
		if errors.Is(err, ssrf.ErrBlocked) {
			code = http.StatusForbidden
		}
		s.refuse(c, rec, code, err.Error(), rec.Rule)
		return false
	}
	out := req.Clone(context.WithValue(req.Context(), addrsKey{}, addrs))
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = "http", net.JoinHostPort(host, strconv.Itoa(port))
	removeHop(out.Header)
	upBody := &countReader{r: req.Body}
	if req.Body != nil && req.Body != http.NoBody {
		out.Body = upBody
	}
	out = out.WithContext(httptrace.WithClientTrace(out.Context(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { rec.Dialed = i.Conn.RemoteAddr().String() },
	}))
	resp, err := s.transport(who.name).RoundTrip(out)
	if err != nil {
		s.refuse(c, rec, http.StatusBadGateway, "upstream: "+err.Error(), rec.Rule)
		return false
	}
	defer resp.Body.Close()
	removeHop(resp.Header)
	downBody := &countReader{r: resp.Body}
	resp.Body = downBody
	resp.Request = req
	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(c)
	defer func() { bw.Reset(nil); writerPool.Put(bw) }()
	werr := resp.Write(bw)
	if werr == nil {
		werr = bw.Flush()
	}
	rec.BytesUp, rec.BytesDown = upBody.n.Load(), downBody.n.Load()
	s.limits.Spend(who.policy, rec.BytesUp+rec.BytesDown)
	rec.Reason = resp.Status
	s.finish(rec, audit.Allow, d.Reason+": "+resp.Status, werr)
	if werr != nil || req.Close || resp.Close {
		return false
	}
	// An upstream that answered before reading the whole request body leaves
	// the rest on the client connection; drain a little, else hang up.
	if req.Body != nil {
		if n, _ := io.Copy(io.Discard, io.LimitReader(req.Body, 256<<10)); n == 256<<10 {
			return false
		}
	}
	return true
}

func removeHop(h http.Header) {
	for _, f := range h.Values("Connection") {
		for _, name := range splitComma(f) {
			h.Del(name)
		}
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if f := trimSpace(s[start:i]); f != "" {
				out = append(out, f)
			}
			start = i + 1
		}
	}
	return out
}

func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// transport returns the client's upstream pool. Pools are per client, so a
// connection dialed under one client's SSRF exceptions never serves another.
func (s *Server) transport(client string) *http.Transport {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.transports[client]; ok {
		return t
	}
	t := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			// Dial only the addresses the guard checked for this request.
			addrs, _ := ctx.Value(addrsKey{}).([]netip.AddrPort)
			if len(addrs) == 0 {
				return nil, errors.New("no checked address to dial")
			}
			c, _, err := s.dialer.DialAddrs(ctx, addrs)
			return c, err
		},
		DisableCompression:  true,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}
	s.transports[client] = t
	return t
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countReader) Close() error {
	if cl, ok := c.r.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}
