package broker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/clemhq/clem/agent-vault/internal/subst"
	"github.com/clemhq/clem/shared/audit"
)

// closeWait bounds how long a failing relay tries to send its close frames:
// a peer that does not read gets none, and the relay still ends.
const closeWait = 2 * time.Second

// errAfterClose is a frame the relay would send after a close.
var errAfterClose = errors.New("websocket: no frame may follow a close frame")

// wsPeer is one end of a relayed WebSocket. Both directions write to it
// (data from one, the close that fails the other), so it writes one whole
// frame at a time, and none after a close (RFC 6455 5.5.1).
type wsPeer struct {
	side string    // "agent" or "upstream", for the audit record
	conn net.Conn  // closed by the relay when it ends
	r    io.Reader // its frames (what the handshake read ahead, then conn)
	mask bool      // it is the server, so frames to it are masked
	// gone is the close status it is sent when the other end fails the
	// connection: 1001 going away to upstream, 1014 bad gateway to the agent.
	gone uint16

	mu     sync.Mutex
	closed bool
}

func (p *wsPeer) write(f frame) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errAfterClose
	}
	p.closed = f.op == opClose
	return writeFrame(p.conn, f, p.mask)
}

// close sends a close frame with status and reason (cut to fit a control
// frame), unless one went already.
func (p *wsPeer) close(status uint16, reason string) error {
	b := binary.BigEndian.AppendUint16(make([]byte, 0, maxControl), status)
	b = append(b, reason[:min(len(reason), maxControl-2)]...)
	return p.write(frame{fin: true, op: opClose, payload: b})
}

// relayWebSocket relays an upgraded connection both ways (relayUp,
// relayDown) until either side ends, then ends both and says in rec how it
// went. A side whose frames fail the connection is sent a close naming the
// error (1002 protocol error, 1009 too big) and the other side a close of
// its own (wsPeer.gone), so neither is left with half a message; only then
// are both sockets closed. rec is touched only by the relay's goroutines
// until it returns.
func relayWebSocket(engine *subst.Engine, agentName, host string, agent, upstream *wsPeer, rec *audit.Record) {
	type end struct {
		from *wsPeer
		err  error
	}
	ends := make(chan end, 2)
	go func() { ends <- end{agent, relayUp(engine, agentName, host, agent, upstream, rec)} }()
	go func() { ends <- end{upstream, relayDown(engine.Scrubber(agentName), upstream, agent, rec)} }()
	first := <-ends
	var fe *frameError
	failed := errors.As(first.err, &fe)
	if failed {
		other := upstream
		if first.from == upstream {
			other = agent
		}
		failConnection(first.from, other, fe)
	}
	agent.conn.Close()
	upstream.conn.Close()
	<-ends
	switch {
	case failed:
		rec.Decision, rec.Rule = audit.Deny, fe.rule
		rec.Reason = fmt.Sprintf("websocket closed: the %s sent %s", first.from.side, fe.msg)
	case rec.Decision == "":
		rec.Decision, rec.Reason = audit.Allow, "websocket relayed"
	}
}

// failConnection tells bad why its frames end the connection and other
// that it ends, both at once and each within closeWait: a write blocked on
// a peer that does not read is cut by the deadline, not waited for, and
// does not keep the other side from being told.
func failConnection(bad, other *wsPeer, fe *frameError) {
	deadline := time.Now().Add(closeWait)
	var wg sync.WaitGroup
	send := func(p *wsPeer, status uint16, reason string) {
		wg.Go(func() {
			p.conn.SetWriteDeadline(deadline)
			p.close(status, reason)
		})
	}
	send(bad, fe.status, "agent-vault: "+fe.msg)
	send(other, other.gone, "agent-vault: the "+bad.side+" broke the WebSocket protocol")
	wg.Wait()
}

// relayUp relays the agent's frames to upstream: each text message with
// its placeholders substituted where a binding allows the websocket
// surface (RewriteText refuses anything else, which ends the connection),
// each message as one frame, control frames as they come.
func relayUp(engine *subst.Engine, agentName, host string, agent, upstream *wsPeer, rec *audit.Record) error {
	return messages(agent.r, func(op byte, msg []byte) error {
		if op == opText {
			out, err := engine.RewriteText(agentName, host, msg)
			if err != nil {
				rec.Decision, rec.Reason = audit.Deny, "websocket message refused: "+err.Error()
				return err
			}
			msg = out
		}
		rec.BytesUp += int64(len(msg))
		return upstream.write(frame{fin: true, op: op, payload: msg})
	}, upstream.write)
}

// relayDown relays upstream's frames to the agent, scrubbing data messages
// as one stream and each control frame on its own. What the stream holds
// back is let go only when upstream ends it (a close, or its end of the
// connection); frames that fail the connection end it with the held
// messages kept, as they end in what may be the start of a secret.
func relayDown(sc *subst.Scrubber, upstream, agent *wsPeer, rec *audit.Record) error {
	ms := sc.Messages()
	var ops []byte // opcode of each message ms holds, oldest first
	send := func(rel [][]byte) error {
		for _, m := range rel {
			op := ops[0]
			ops = ops[1:]
			rec.BytesDown += int64(len(m))
			if err := agent.write(frame{fin: true, op: op, payload: m}); err != nil {
				return err
			}
		}
		return nil
	}
	err := messages(upstream.r, func(op byte, msg []byte) error {
		ops = append(ops, op)
		rel, err := ms.Push(msg)
		if err != nil {
			return err
		}
		return send(rel)
	}, func(f frame) error {
		if f.op == opClose {
			// Nothing can complete a held message now.
			if err := send(ms.Flush()); err != nil {
				return err
			}
		}
		f.payload = scrubControl(sc, f)
		return agent.write(f)
	})
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		send(ms.Flush())
	}
	return err
}
