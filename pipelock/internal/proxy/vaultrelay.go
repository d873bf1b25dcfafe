package proxy

import (
	"bufio"
	"net"
	"net/http"
	"time"

	"github.com/clemhq/clem/shared/handoff"
)

// relayThroughVault sends a brokered CONNECT to agent-vault as a byte
// stream and, once agent-vault answers 200, splices the client to it:
// pipelock stays in the data path, counting the bytes (a budgeted client,
// or one whose connection cannot be passed).
func (s *Server) relayThroughVault(t *tunnel, target string, vc net.Conn) {
	if _, err := vc.Write(handoff.Request{Target: target, Agent: t.who.name, UID: t.who.uid, ConnID: t.rec.ConnID}.Append(nil)); err != nil {
		s.deny(t, http.StatusBadGateway, "agent-vault hand-off failed: "+err.Error(), t.rec.Rule)
		return
	}
	vc.SetReadDeadline(time.Now().Add(s.cfg.Load().Dial))
	vbr := bufio.NewReader(vc)
	answer, err := handoff.ReadAnswer(vbr)
	vc.SetReadDeadline(time.Time{})
	if err != nil {
		s.deny(t, http.StatusBadGateway, "agent-vault hand-off failed: "+err.Error(), t.rec.Rule)
		return
	}
	if answer.Code != http.StatusOK {
		s.deny(t, http.StatusForbidden, "agent-vault refused: "+answer.Status, t.rec.Rule)
		return
	}
	up := net.Conn(vc)
	if vbr.Buffered() > 0 {
		up = bufConn{vc, vbr}
	}
	// agent-vault checks the SNI itself, against the brokered host.
	s.carry(t, up, "brokered through agent-vault", false)
}
