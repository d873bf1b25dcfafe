package proxy

import (
	"bufio"
	"errors"
	"net"
	"time"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/handoff"
)

// errCannotPass: the client's connection cannot travel (it is not a plain
// TCP socket, or agent-vault's is not a unix socket). Nothing was sent;
// the caller relays instead.
var errCannotPass = errors.New("the client's connection cannot be passed to agent-vault")

// sendError: the hand-off could not be sent, so agent-vault may not have
// the client, and the client is still pipelock's to answer.
type sendError struct{ err error }

func (e sendError) Error() string { return e.err.Error() }
func (e sendError) Unwrap() error { return e.err }

// passSocket gives the client's socket itself to agent-vault (SCM_RIGHTS),
// with the bytes already read from it, so pipelock leaves the data path of
// a brokered tunnel: agent-vault answers the client, terminates its TLS and
// audits every request with the same connection id. It returns
// errCannotPass having sent nothing, a sendError when the hand-off could
// not be sent, and otherwise, agent-vault having taken the client,
// its verdict or the error reading it, for the caller to count and audit.
// A budgeted client is never passed: its bytes must pass through here to
// be counted.
func (s *Server) passSocket(c net.Conn, br *bufio.Reader, who caller, rec *audit.Record, target string, vc net.Conn) (handoff.Answer, error) {
	tc, ok := c.(*net.TCPConn)
	uc, ok2 := vc.(*net.UnixConn)
	if !ok || !ok2 {
		return handoff.Answer{}, errCannotPass
	}
	pre, _ := br.Peek(br.Buffered())
	req := handoff.Request{Target: target, Agent: who.name, UID: who.uid, ConnID: rec.ConnID, Buffered: pre}
	if err := handoff.SendSocket(uc, tc, req); err != nil {
		return handoff.Answer{}, sendError{err}
	}
	// From here agent-vault owns the client: it answers it, refusals too.
	rec.Event = EventHandover
	rec.BytesUp = int64(len(pre))
	vc.SetReadDeadline(time.Now().Add(s.cfg.Load().Dial + 30*time.Second))
	return handoff.ReadAnswer(bufio.NewReader(vc))
}
