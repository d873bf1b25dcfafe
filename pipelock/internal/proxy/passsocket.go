package proxy

import (
	"bufio"
	"net"
	"net/http"
	"time"

	"golang.org/x/sys/unix"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/handoff"
)

// handOver gives the client's socket itself to agent-vault (SCM_RIGHTS),
// with the bytes already read from it, so pipelock leaves the data path of
// a brokered tunnel: agent-vault answers the client, terminates its TLS and
// audits every request with the same connection id. pipelock records the
// verdict agent-vault sends back. It reports false, having sent nothing,
// when the client's connection cannot travel (not a plain TCP socket); the
// caller then relays as before. A budgeted client is never handed over:
// its bytes must pass through here to be counted.
func (s *Server) handOver(c net.Conn, br *bufio.Reader, who caller, rec *audit.Record, target string, vc net.Conn) bool {
	tc, ok := c.(*net.TCPConn)
	uc, ok2 := vc.(*net.UnixConn)
	if !ok || !ok2 {
		return false
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return false
	}
	pre, _ := br.Peek(br.Buffered())
	msg := handoff.Request{Target: target, Agent: who.name, UID: who.uid, ConnID: rec.ConnID, FD: true, Buffered: pre}.Append(nil)
	var n int
	var sendErr error
	err = raw.Control(func(fd uintptr) {
		n, _, sendErr = uc.WriteMsgUnix(msg, unix.UnixRights(int(fd)), nil)
	})
	if err == nil {
		err = sendErr
	}
	if err == nil && n < len(msg) { // a stream socket may take part of it
		_, err = vc.Write(msg[n:])
	}
	if err != nil {
		s.refuse(c, rec, http.StatusBadGateway, "agent-vault hand-off failed: "+err.Error(), rec.Rule)
		return true
	}
	// From here agent-vault owns the client: it answers it, refusals too.
	rec.Event = EventHandover
	vc.SetReadDeadline(time.Now().Add(s.cfg.Load().Dial + 30*time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(vc), nil)
	rec.BytesUp = int64(len(pre))
	switch {
	case err != nil:
		s.Stats.count(false)
		s.finish(rec, audit.Deny, "agent-vault took the connection but sent no verdict", err)
	case resp.StatusCode != http.StatusOK:
		resp.Body.Close()
		s.Stats.count(false)
		s.finish(rec, audit.Deny, "agent-vault refused: "+resp.Status, nil)
	default:
		resp.Body.Close()
		s.Stats.count(true)
		s.finish(rec, audit.Allow, "brokered through agent-vault (connection handed over)", nil)
	}
	return true
}
