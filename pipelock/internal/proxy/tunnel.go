package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"

	"github.com/clemhq/clem/pipelock/internal/ssrf"
	"github.com/clemhq/clem/pipelock/internal/tlspeek"
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

type hello struct {
	raw []byte
	sni string
}

// checkSNI reads the client's TLS ClientHello and returns a refusal reason
// when it has no SNI or names another host than the CONNECT target. The
// hello's raw bytes are those read: a hello cut short leaves ReadHello's
// buffer longer than what came, and a record's bytes_up must not count
// bytes never sent.
func checkSNI(r io.Reader, host string) (hello, string, error) {
	cr := &countReader{r: r}
	raw, sni, err := tlspeek.ReadHello(cr)
	h := hello{raw: raw[:min(int64(len(raw)), cr.n.Load())], sni: sni}
	switch {
	case err != nil:
		return h, "no TLS ClientHello with SNI: " + err.Error(), err
	case sni == "":
		return h, "TLS ClientHello has no SNI; pipelock requires it to match the CONNECT host", nil
	}
	c, _, cerr := ssrf.Canonical(sni)
	if cerr != nil || c != host {
		return h, fmt.Sprintf("TLS SNI %q does not match CONNECT host %s", sni, host), nil
	}
	return h, "", nil
}

// splice copies both ways until both sides are done, replaying first (the
// peeked ClientHello) and whatever the client had already buffered. Once
// the buffer is empty it copies from the raw connections, so the kernel can
// splice TCP to TCP without copying through user space.
func (s *Server) splice(client net.Conn, br *bufio.Reader, up net.Conn, first []byte) (upBytes, downBytes int64) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n, _ := io.Copy(client, up)
		downBytes = n
		closeWrite(client)
	}()
	if len(first) > 0 {
		n, err := up.Write(first)
		upBytes += int64(n)
		if err != nil {
			up.Close()
		}
	}
	if k := br.Buffered(); k > 0 {
		b, _ := br.Peek(k)
		n, _ := up.Write(b)
		br.Discard(k)
		upBytes += int64(n)
	}
	n, _ := io.Copy(up, client)
	upBytes += n
	closeWrite(up)
	wg.Wait()
	return upBytes, downBytes
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}
