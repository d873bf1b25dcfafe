package proxy

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/handoff"
)

// handOff tunnels a brokered CONNECT to agent-vault instead of the target.
func (s *Server) handOff(c net.Conn, br *bufio.Reader, who caller, rec *audit.Record, host string, port int, socket string) {
	target := net.JoinHostPort(host, strconv.Itoa(port))
	rec.Dialed = "unix:" + socket
	vc, err := net.DialTimeout("unix", socket, s.cfg.Load().Dial)
	if err != nil {
		s.refuse(c, rec, http.StatusBadGateway, "agent-vault unreachable: "+err.Error(), rec.Rule)
		return
	}
	defer vc.Close()
	if who.policy.BudgetBytes == 0 {
		if ok := s.handOver(c, br, who, rec, target, vc); ok {
			return
		}
	}
	if _, err := vc.Write(handoff.Request{Target: target, Agent: who.name, UID: who.uid, ConnID: rec.ConnID}.Append(nil)); err != nil {
		s.refuse(c, rec, http.StatusBadGateway, "agent-vault hand-off failed: "+err.Error(), rec.Rule)
		return
	}
	vc.SetReadDeadline(time.Now().Add(s.cfg.Load().Dial))
	vbr := bufio.NewReader(vc)
	resp, err := http.ReadResponse(vbr, nil)
	vc.SetReadDeadline(time.Time{})
	if err != nil {
		s.refuse(c, rec, http.StatusBadGateway, "agent-vault hand-off failed: "+err.Error(), rec.Rule)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.refuse(c, rec, http.StatusForbidden, "agent-vault refused: "+resp.Status, rec.Rule)
		return
	}
	if _, err := c.Write([]byte("HTTP/1.1 200 Connection Established\r\n\r\n")); err != nil {
		s.finish(rec, audit.Deny, "client went away", err)
		return
	}
	if !s.opened(rec, "brokered through agent-vault") {
		s.Stats.count(false)
		return
	}
	s.Stats.count(true)
	up := net.Conn(vc)
	if vbr.Buffered() > 0 {
		up = bufConn{vc, vbr}
	}
	rec.BytesUp, rec.BytesDown = s.splice(c, br, up, nil)
	s.limits.Spend(who.policy, rec.BytesUp+rec.BytesDown)
	s.finish(rec, audit.Allow, "brokered through agent-vault", nil)
}
