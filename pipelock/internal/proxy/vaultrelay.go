package proxy

import (
	"bufio"
	"net"
	"net/http"
	"time"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/handoff"
)

// relayThroughVault sends a brokered CONNECT to agent-vault as a byte
// stream and, once agent-vault answers 200, splices the client to it:
// pipelock stays in the data path, counting the bytes (a budgeted client,
// or one whose connection cannot be passed).
func (s *Server) relayThroughVault(c net.Conn, br *bufio.Reader, who caller, rec *audit.Record, target string, vc net.Conn) {
	if _, err := vc.Write(handoff.Request{Target: target, Agent: who.name, UID: who.uid, ConnID: rec.ConnID}.Append(nil)); err != nil {
		s.refuse(c, rec, http.StatusBadGateway, "agent-vault hand-off failed: "+err.Error(), rec.Rule)
		return
	}
	vc.SetReadDeadline(time.Now().Add(s.cfg.Load().Dial))
	vbr := bufio.NewReader(vc)
	answer, err := handoff.ReadAnswer(vbr)
	vc.SetReadDeadline(time.Time{})
	if err != nil {
		s.refuse(c, rec, http.StatusBadGateway, "agent-vault hand-off failed: "+err.Error(), rec.Rule)
		return
	}
	if answer.Code != http.StatusOK {
		s.refuse(c, rec, http.StatusForbidden, "agent-vault refused: "+answer.Status, rec.Rule)
		return
	}
	if _, err := c.Write([]byte("HTTP/1.1 200 Connection Established\r\n\r\n")); err != nil {
		s.finish(rec, audit.Deny, "client went away", err)
		return
	}
	if !s.opened(rec, "brokered through agent-vault") {
		return
	}
	up := net.Conn(vc)
	if vbr.Buffered() > 0 {
		up = bufConn{vc, vbr}
	}
	rec.BytesUp, rec.BytesDown = s.splice(c, br, up, nil)
	s.limits.Spend(who.policy, rec.BytesUp+rec.BytesDown)
	s.finish(rec, audit.Allow, "brokered through agent-vault", nil)
}
