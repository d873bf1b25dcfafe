package broker

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/handoff"
	"github.com/clemhq/clem/shared/hostpattern"
	"github.com/clemhq/clem/shared/peer"
)

// tunnel is what one authenticated, TLS-terminated connection is for.
type tunnel struct {
	agent  string
	host   string
	connID string
	uid    uint32
	// release gives back the tunnel's connection slot: when the server
	// closes the connection, or when serveWebSocket ends one it took over.
	release func()
}

func (t *tunnel) releaseConn() {
	if t.release != nil {
		t.release()
	}
}

var tunnels sync.Map // *tls.Conn -> *tunnel

type tunnelKey struct{}

func connContext(ctx context.Context, c net.Conn) context.Context {
	if t, ok := tunnels.Load(c); ok {
		return context.WithValue(ctx, tunnelKey{}, t.(*tunnel))
	}
	return ctx
}

// connState forgets a tunnel once its connection is closed or hijacked,
// and gives its slot back when closed (a hijacker gives it back itself).
func connState(c net.Conn, st http.ConnState) {
	switch st {
	case http.StateClosed:
		if t, ok := tunnels.LoadAndDelete(c); ok {
			t.(*tunnel).releaseConn()
		}
	case http.StateHijacked:
		tunnels.Delete(c)
	}
}

// handoff authenticates the caller, reads its CONNECT, terminates TLS and
// hands the connection to the HTTP server.
func (s *Server) handoff(c net.Conn) {
	cfg := s.cfg.Load()
	rec := &audit.Record{Time: time.Now(), Component: "agent-vault", Event: "handoff"}
	uid, err := s.callerUID(c)
	if err != nil {
		s.refuseConn(c, rec, "cannot identify the caller: "+err.Error())
		return
	}
	rec.UID = &uid
	isProxy := cfg.ProxyUIDs[uid]
	client, isClient := cfg.Clients[uid]
	unknown := fmt.Sprintf("unknown caller uid %d: only trusted proxies and configured clients may connect", uid)
	if !isProxy && !isClient && uid != s.self {
		s.refuseConn(c, rec, unknown)
		return
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	var stream io.Reader = c
	var control net.Conn // fd hand-off: the proxy's socket, for the verdict
	if uc, ok := c.(*net.UnixConn); ok && isProxy {
		first, client, err := firstMessage(uc)
		if err != nil {
			s.refuseConn(c, rec, "hand-off: "+err.Error())
			return
		}
		stream = io.MultiReader(bytes.NewReader(first), c)
		if client != nil {
			control, c = c, client
			c.SetDeadline(time.Now().Add(30 * time.Second))
			defer func() { verdict(control, 403, rec.Reason) }() // no-op once answered
		}
	}
	// The CONNECT and the bytes handed over with it, no more: its header
	// block is bounded like a request's.
	br := bufio.NewReaderSize(io.LimitReader(stream, maxConnectHeader+maxBuffered), 4096)
	req, err := http.ReadRequest(br)
	if err != nil || req.Method != http.MethodConnect || (control != nil) != (req.Header.Get(handoff.HeaderFD) == "1") {
		s.refuseConn(c, rec, "expected a CONNECT request")
		return
	}
	if control == nil && s.isProbe(uid, req) {
		s.answerProbe(c, br.Buffered())
		return
	}
	if !isProxy && !isClient {
		s.refuseConn(c, rec, unknown)
		return
	}
	var pre []byte
	if control != nil {
		if pre, err = readBuffered(br, req.Header.Get(handoff.HeaderBuffered)); err != nil {
			s.refuseConn(c, rec, "hand-off: "+err.Error())
			return
		}
	}
	rec.Method, rec.Target = http.MethodConnect, req.RequestURI
	agent, agentUID := client, uid
	if isProxy {
		// Believed only because the kernel says the peer is a trusted proxy.
		agent = req.Header.Get(handoff.HeaderAgent)
		if id := req.Header.Get(handoff.HeaderConnID); id != "" {
			rec.ConnID = id
		}
		n, err := strconv.ParseUint(req.Header.Get(handoff.HeaderUID), 10, 32)
		if err != nil {
			s.refuseConn(c, rec, "the proxy named no agent uid ("+handoff.HeaderUID+")")
			return
		}
		agentUID = uint32(n)
		rec.UID = &agentUID
	}
	rec.Agent = agent
	if !cfg.Agents[agent] {
		s.refuseConn(c, rec, fmt.Sprintf("agent %q holds no placeholder here", agent))
		return
	}
	release, err := s.conns.Acquire(agentUID)
	if err != nil {
		s.refuseConnLimited(c, rec, err)
		return
	}
	pushed := false
	defer func() {
		if !pushed {
			release()
		}
	}()
	h, p, err := net.SplitHostPort(req.RequestURI)
	port, perr := strconv.Atoi(p)
	if err != nil || perr != nil {
		s.refuseConn(c, rec, "CONNECT target is not host:port")
		return
	}
	host, err := hostpattern.CanonicalHost(h)
	if err != nil {
		s.refuseConn(c, rec, "CONNECT host: "+err.Error())
		return
	}
	rec.Host = host
	if port != 443 {
		s.refuseConn(c, rec, fmt.Sprintf("port %d: secrets are only ever sent to port 443", port))
		return
	}
	if _, ok := cfg.HostList.Match(host); !ok {
		s.refuseConn(c, rec, fmt.Sprintf("%s is not a brokered host", host))
		return
	}
	if br.Buffered() > 0 {
		s.refuseConn(c, rec, "client sent data before the tunnel was established")
		return
	}
	if _, err := c.Write([]byte("HTTP/1.1 200 Connection Established\r\n\r\n")); err != nil {
		return
	}
	if control != nil {
		verdict(control, 200, "")
		control = nil
	}
	tc := tls.Server(&readAheadConn{Conn: newPrefixConn(c, pre)}, &tls.Config{
		GetCertificate: s.ca.Load().GetCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
		MinVersion:     tls.VersionTLS12,
	})
	if err := tc.Handshake(); err != nil {
		rec.Error = err.Error()
		s.refuseConn(tc, rec, "TLS handshake with the client failed (does it trust the agent-vault CA?)")
		return
	}
	if sni := tc.ConnectionState().ServerName; sni != host {
		s.refuseConn(tc, rec, fmt.Sprintf("TLS SNI %q does not match CONNECT host %s", sni, host))
		return
	}
	c.SetDeadline(time.Time{})
	if rec.ConnID == "" {
		rec.ConnID = audit.NewConnID()
	}
	tunnels.Store(tc, &tunnel{agent: agent, host: host, connID: rec.ConnID, uid: agentUID, release: release})
	if !s.tlsIn.push(tc) {
		tunnels.Delete(tc)
		tc.Close()
		return
	}
	pushed = true
	s.stats.tunnels.Add(1)
}

// callerUID asks the kernel who owns the caller's socket.
func (s *Server) callerUID(c net.Conn) (uint32, error) {
	switch cc := c.(type) {
	case *net.UnixConn:
		cred, err := peer.UnixPeer(cc)
		return cred.UID, err
	case *net.TCPConn:
		local, err1 := netip.ParseAddrPort(c.LocalAddr().String())
		remote, err2 := netip.ParseAddrPort(c.RemoteAddr().String())
		if err1 != nil || err2 != nil {
			return 0, fmt.Errorf("bad socket addresses")
		}
		if s.IdentifyTCP != nil {
			return s.IdentifyTCP(local, remote)
		}
		uid, _, err := peer.TCPPeerUIDAddr(local, remote)
		return uid, err
	}
	return 0, fmt.Errorf("unsupported connection type %T", c)
}

// refuseConn answers a refused hand-off (when the caller still speaks
// HTTP), audits it and closes.
func (s *Server) refuseConn(c net.Conn, rec *audit.Record, reason string) {
	// The record first: it must exist before the refused caller (or anyone
	// it tells) can see the refusal, and before a crash could lose it.
	rec.Decision, rec.Reason = audit.Deny, reason
	rec.DurationMS = audit.Millis(time.Since(rec.Time))
	s.write(rec)
	if _, isTLS := c.(*tls.Conn); !isTLS {
		body := reason + "\n"
		fmt.Fprintf(c, "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	}
	c.Close()
}

// maxConnectHeader bounds the hand-off's CONNECT header block.
const maxConnectHeader = 64 << 10

// refuseConnLimited refuses a tunnel over the agent's (or the total)
// connection limit; a flood of them is summarised in the audit log.
func (s *Server) refuseConnLimited(c net.Conn, rec *audit.Record, err error) {
	reason := "too many tunnels: " + err.Error()
	rec.Decision, rec.Reason, rec.Status = audit.Deny, reason, http.StatusServiceUnavailable
	rec.DurationMS = audit.Millis(time.Since(rec.Time))
	s.stats.decided(rec)
	s.flood.refuse(rec, "connection-limit")
	body := reason + "\n"
	fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	c.Close()
}

// refuseLimited refuses a request over the agent's (or the total) request
// limit; a flood of them is summarised in the audit log.
func (s *Server) refuseLimited(w http.ResponseWriter, rec *audit.Record, status int, what string, err error) {
	reason := "too many " + what + " in flight: " + err.Error()
	rec.Decision, rec.Reason, rec.Status = audit.Deny, reason, status
	rec.DurationMS = audit.Millis(time.Since(rec.Time))
	s.stats.decided(rec)
	s.flood.refuse(rec, what+"-limit")
	http.Error(w, "agent-vault: "+reason, status)
}

// write counts the record's decision and writes it.
func (s *Server) write(rec *audit.Record) {
	s.stats.decided(rec)
	s.record(rec)
}

// record writes rec uncounted: flood summaries, and the first refusal of a
// flood, which refuseLimited and refuseConnLimited count.
func (s *Server) record(rec *audit.Record) {
	if s.audit != nil {
		s.audit.Write(rec)
	}
}
