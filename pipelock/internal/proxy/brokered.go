package proxy

import (
	"errors"
	"net"
	"net/http"
	"strconv"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/handoff"
)

// brokerViaVault tunnels a brokered CONNECT through agent-vault instead
// of to the target: it passes the client's socket over (passSocket) unless
// the client has a byte budget or its connection cannot travel, and
// relays through agent-vault otherwise (relayThroughVault). The
// hand-off's wire is shared/handoff's.
func (s *Server) brokerViaVault(t *tunnel) {
	target := net.JoinHostPort(t.host, strconv.Itoa(t.port))
	cfg := s.cfg.Load()
	t.rec.Dialed = "unix:" + cfg.File.Vault.Socket
	vc, err := net.DialTimeout("unix", cfg.File.Vault.Socket, cfg.Dial)
	if err != nil {
		s.deny(t, http.StatusBadGateway, "agent-vault unreachable: "+err.Error(), t.rec.Rule)
		return
	}
	defer vc.Close()
	if t.who.policy.BudgetBytes == 0 {
		verdict, err := s.passSocket(t.c, t.br, t.who, t.rec, target, vc)
		var notSent sendError
		switch {
		case errors.Is(err, errCannotPass):
			// Relayed below.
		case errors.As(err, &notSent):
			s.deny(t, http.StatusBadGateway, "agent-vault hand-off failed: "+err.Error(), t.rec.Rule)
			return
		default:
			s.handedOver(t.rec, verdict, err)
			return
		}
	}
	s.relayThroughVault(t, target, vc)
}

// handedOver audits (and so counts) a connection agent-vault took over:
// its verdict, or err when it sent none.
func (s *Server) handedOver(rec *audit.Record, verdict handoff.Answer, err error) {
	switch {
	case err != nil:
		s.finish(rec, audit.Deny, "agent-vault took the connection but sent no verdict", err)
	case verdict.Code != http.StatusOK:
		s.finish(rec, audit.Deny, "agent-vault refused: "+verdict.Status, nil)
	default:
		s.finish(rec, audit.Allow, "brokered through agent-vault (connection handed over)", nil)
	}
}
