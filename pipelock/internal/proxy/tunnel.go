package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/clemhq/clem/pipelock/internal/policy"
	"github.com/clemhq/clem/pipelock/internal/ssrf"
	"github.com/clemhq/clem/shared/audit"
)

// tunnel is a TLS connection on its way through, as its mode learned it:
// the explicit proxy from a CONNECT request, the transparent listener
// from the original destination's port and the ClientHello's SNI. The
// rest of the way (decide, admit, dial, splice, finish) is runTunnel's,
// the same for both, so both refuse, audit and count alike.
type tunnel struct {
	c   net.Conn
	br  *bufio.Reader // reads c, holding what the client sent past its request
	who caller
	rec *audit.Record // Method and Target already set
	// host is canonical; port the target's.
	host string
	port int
	// explicit: the client asked pipelock for the tunnel (CONNECT), so it
	// is answered, a refusal with its status and reason, a tunnel with
	// 200. A redirected client thinks it talks to the target: a refusal
	// cuts it, and its record alone says why.
	explicit bool
	// checkSNI: read the ClientHello after the 200 and refuse the tunnel
	// unless its SNI names host (explicit, port 443, a host name).
	checkSNI bool
	// hello is the ClientHello already read (transparent), replayed
	// upstream first.
	hello []byte
}

// runTunnel takes t from its target to its final record: the policy, the
// caller's rate and budget, the audit log's health, then agent-vault for
// a brokered host or a dial of the checked target, and the bytes.
func (s *Server) runTunnel(t *tunnel) {
	d := policy.Decide(t.who.policy, policy.Request{Kind: policy.TLS, Host: t.host, Port: t.port})
	t.rec.Rule = d.Rule
	switch {
	case !d.Allow:
		s.deny(t, http.StatusForbidden, d.Reason, d.Rule)
		return
	case d.Brokered && !t.explicit:
		// agent-vault takes hand-offs from the explicit proxy only.
		s.deny(t, http.StatusForbidden, "brokered hosts need the explicit proxy (HTTPS_PROXY)", d.Rule)
		return
	}
	if ld := s.limits.Admit(t.who.policy); !ld.Allow {
		s.deny(t, http.StatusTooManyRequests, ld.Reason, ld.Rule)
		return
	}
	// The tunnel's records come after its answer (the open record needs
	// the ClientHello the 200 lets the client send), so the answer waits
	// on the log's health instead; see auditDown.
	if err := s.auditErr(); err != nil {
		s.deny(t, http.StatusServiceUnavailable, AuditUnavailable(err), RuleAudit)
		return
	}
	if d.Brokered {
		s.brokerViaVault(t)
		return
	}
	up, err := s.dialTarget(context.Background(), t.rec, t.who, t.host, t.port)
	if err != nil {
		code := http.StatusBadGateway
		if errors.Is(err, ssrf.ErrBlocked) {
			code = http.StatusForbidden
		}
		s.deny(t, code, err.Error(), t.rec.Rule)
		return
	}
	defer up.Close()
	s.carry(t, up, d.Reason, t.checkSNI)
}

// deny refuses t before it carries a byte: an explicit client is answered
// status and reason (refuse), a redirected one is cut.
func (s *Server) deny(t *tunnel, status int, reason, rule string) {
	if t.explicit {
		s.refuse(t.c, t.rec, status, reason, rule)
		return
	}
	t.rec.Rule = rule
	s.finish(t.rec, audit.Deny, reason, nil)
}

// carry runs an allowed tunnel over up, the dialed target or agent-vault:
// the 200 to an explicit client, the SNI check when sni is set, the open
// record, the bytes both ways and the close record with reason.
func (s *Server) carry(t *tunnel, up net.Conn, reason string, sni bool) {
	if t.explicit {
		if _, err := io.WriteString(t.c, "HTTP/1.1 200 Connection Established\r\n\r\n"); err != nil {
			s.finish(t.rec, audit.Deny, "client went away", err)
			return
		}
	}
	first := t.hello
	if sni {
		t.c.SetReadDeadline(time.Now().Add(s.cfg.Load().Hello))
		h, why, err := checkSNI(t.br, t.host)
		t.c.SetReadDeadline(time.Time{})
		t.rec.SNI = h.sni
		if why != "" {
			t.rec.BytesUp = int64(len(h.raw))
			s.finish(t.rec, audit.Deny, why, err)
			return
		}
		first = h.raw
	}
	if !s.opened(t.rec, reason) {
		return
	}
	t.rec.BytesUp, t.rec.BytesDown = s.splice(t.c, t.br, up, first)
	s.limits.Spend(t.who.policy, t.rec.BytesUp+t.rec.BytesDown)
	s.finish(t.rec, audit.Allow, reason, nil)
}
