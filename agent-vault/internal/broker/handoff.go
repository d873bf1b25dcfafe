package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/handoff"
	"github.com/clemhq/clem/shared/peer"
)

// handoff receives one hand-off: it names the caller from the kernel,
// reads its CONNECT (and the client's socket, from a trusted proxy) with
// shared/handoff, lets DecideTunnel admit the tunnel before and after the
// TLS handshake, and hands the connection, carrying its tunnel, to the
// HTTP server.
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
	var first []byte
	var control net.Conn // fd hand-off: the proxy's socket, for the verdict
	if uc, ok := c.(*net.UnixConn); ok && isProxy {
		var sock net.Conn
		first, sock, err = handoff.ReceiveSocket(uc)
		if err != nil {
			s.refuseConn(c, rec, "hand-off: "+err.Error())
			return
		}
		if sock != nil {
			control, c = c, sock
			c.SetDeadline(time.Now().Add(30 * time.Second))
			defer func() { verdict(control, http.StatusForbidden, rec.Reason) }() // no-op once answered
		}
	}
	// Read from the caller's socket, not the client's: the CONNECT comes
	// from the proxy, the tunnel's bytes from the client.
	from := c
	if control != nil {
		from = control
	}
	br := handoff.NewReader(first, from)
	req, err := handoff.ReadRequest(br, control != nil)
	if errors.Is(err, handoff.ErrNotConnect) {
		s.refuseConn(c, rec, handoff.ErrNotConnect.Error())
		return
	}
	if control == nil && s.isProbe(uid, req.Target) {
		s.answerProbe(c, br.Buffered())
		return
	}
	if !isProxy && !isClient {
		s.refuseConn(c, rec, unknown)
		return
	}
	if err != nil {
		s.refuseConn(c, rec, "hand-off: "+err.Error())
		return
	}
	rec.Method, rec.Target = http.MethodConnect, req.Target
	agent, agentUID := client, uid
	if isProxy {
		// Believed only because the kernel says the peer is a trusted proxy.
		agent = req.Agent
		if req.ConnID != "" {
			rec.ConnID = req.ConnID
		}
		n, err := req.AgentUID()
		if err != nil {
			s.refuseConn(c, rec, err.Error())
			return
		}
		agentUID = n
		rec.UID = &agentUID
	}
	rec.Agent = agent
	// Refused before it takes a tunnel slot: a refusal holds none.
	d := DecideTunnel(cfg, Tunnel{Agent: agent, Target: req.Target})
	rec.Host = d.Host
	if !d.Allow {
		s.refuseDecided(c, rec, d)
		return
	}
	release, err := s.conns.Acquire(agentUID)
	if err != nil {
		s.refuseConnLimited(c, rec, err)
		return
	}
	t := &tunnel{agent: agent, host: d.Host, uid: agentUID, release: release}
	pushed := false
	defer func() {
		if !pushed {
			t.releaseConn()
		}
	}()
	if br.Buffered() > 0 {
		s.refuseConn(c, rec, "client sent data before the tunnel was established")
		return
	}
	if _, err := c.Write([]byte("HTTP/1.1 200 Connection Established\r\n\r\n")); err != nil {
		return
	}
	if control != nil {
		verdict(control, http.StatusOK, "")
		control = nil
	}
	tc := tls.Server(&tunnelConn{Conn: &readAheadConn{Conn: newPrefixConn(c, req.Buffered)}, t: t}, &tls.Config{
		GetCertificate: s.ca.Load().GetCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
		MinVersion:     tls.VersionTLS12,
	})
	if err := tc.Handshake(); err != nil {
		rec.Error = err.Error()
		s.refuseConn(tc, rec, "TLS handshake with the client failed (does it trust the agent-vault CA?)")
		return
	}
	if d := DecideTunnel(cfg, Tunnel{Agent: agent, Target: req.Target, Hello: true, SNI: tc.ConnectionState().ServerName}); !d.Allow {
		s.refuseDecided(tc, rec, d)
		return
	}
	c.SetDeadline(time.Time{})
	if rec.ConnID == "" {
		rec.ConnID = audit.NewConnID()
	}
	t.connID = rec.ConnID
	if !s.tlsIn.push(tc) {
		tc.Close()
		return
	}
	pushed = true
	s.stats.tunnels.Add(1)
}

// verdict tells the proxy how the handed-over connection went, once: the
// first call closes control, and a nil control (already answered, or no
// descriptor came) is a no-op.
func verdict(control net.Conn, code int, reason string) {
	if control != nil {
		handoff.WriteVerdict(control, code, reason)
	}
}

// refuseDecided refuses a tunnel DecideTunnel refused, naming its rule.
func (s *Server) refuseDecided(c net.Conn, rec *audit.Record, d Decision) {
	rec.Rule = d.Rule
	s.refuseConn(c, rec, d.Reason)
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
