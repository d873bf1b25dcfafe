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

// errRelayEnded is a frame the relay would pass on after it ended.
var errRelayEnded = errors.New("websocket: the relay has ended")

// reasonShutdown is the record's reason for a relay the server's Shutdown
// ended.
const reasonShutdown = "websocket relayed; agent-vault shut down"

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

	mu     sync.Mutex // held for a whole frame's write
	closed bool       // a close frame went to it

	// gate is held only to let a frame through or to end the relay, never
	// across a write: ending must not wait for a peer that does not read.
	gate  sync.Mutex
	ended bool  // the relay has ended: only its own closes go now
	sent  int64 // payload bytes of the data frames let through
}

// write sends a frame the relay passes on, unless the relay has ended.
func (p *wsPeer) write(f frame) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.admit(f) {
		return errRelayEnded
	}
	return p.send(f)
}

// admit lets f through, counting a data frame's payload, unless the relay
// has ended.
func (p *wsPeer) admit(f frame) bool {
	p.gate.Lock()
	defer p.gate.Unlock()
	if p.ended {
		return false
	}
	if f.op == opText || f.op == opBinary {
		p.sent += int64(len(f.payload))
	}
	return true
}

// end lets no more of the relay's frames through to p (its own closes
// still go) and says how many data bytes went; a frame let through before
// may still be on its way.
func (p *wsPeer) end() int64 {
	p.gate.Lock()
	defer p.gate.Unlock()
	p.ended = true
	return p.sent
}

// close sends a close frame with status and reason (cut to fit a control
// frame), unless one went already; it goes after the relay has ended too.
func (p *wsPeer) close(status uint16, reason string) error {
	b := binary.BigEndian.AppendUint16(make([]byte, 0, maxControl), status)
	b = append(b, reason[:min(len(reason), maxControl-2)]...)
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.send(frame{fin: true, op: opClose, payload: b})
}

func (p *wsPeer) send(f frame) error {
	if p.closed {
		return errAfterClose
	}
	p.closed = f.op == opClose
	return writeFrame(p.conn, f, p.mask)
}

// refusedMessage is a message of the agent's that was refused: it ends the
// relay, the agent told why (1008), and the record names rule.
type refusedMessage struct {
	rule string
	err  error
}

func (e *refusedMessage) Error() string { return "websocket message refused: " + e.err.Error() }
func (e *refusedMessage) Unwrap() error { return e.err }

// Rules of the relay's own endings, beside the frameErrors'.
const (
	ruleSubstitution = "websocket.substitution" // RewriteText refused the agent's message
	ruleScrubHold    = "websocket.scrub-hold"   // subst.ErrHeldTooLong
	ruleWrite        = "websocket.write"        // a message could not be written to a side
)

// errScrubHold is upstream's messages ending, one after another, in what
// may be the start of a secret, past what the scrubber holds back.
var errScrubHold = &frameError{closePolicy, ruleScrubHold, "messages that kept ending in the start of a secret, past what the scrubber holds back (1 MiB or 4096 messages)"}

// closeInternal is the close status (1011) sent to a side a write failed on.
const closeInternal = 1011

// writeError is a frame the relay could not write to a side: the side's
// connection failed.
type writeError struct {
	to  *wsPeer
	err error
}

func (e *writeError) Error() string {
	return "websocket: writing to the " + e.to.side + ": " + e.err.Error()
}
func (e *writeError) Unwrap() error { return e.err }

// relayTo passes a frame on to p, saying so if p's connection failed.
func relayTo(p *wsPeer, f frame) error {
	if err := p.write(f); err != nil {
		if err == errRelayEnded {
			return err
		}
		return &writeError{p, err}
	}
	return nil
}

// wsRelay is one relayed WebSocket: its two ends and its audit record.
type wsRelay struct {
	// engines substitute the agent's messages and scrub upstream's: the
	// one in force for each message (see wsEngines).
	engines   *wsEngines
	agentName string
	host      string
	agent     *wsPeer
	upstream  *wsPeer
	rec       *audit.Record
	// write writes rec, once, when the relay ends: before either side is
	// sent a close of the relay's own or sees its socket closed, so the
	// record exists by the time anyone can see the end (pipelock's rule
	// for a refusal).
	write func(*audit.Record)
	// stop, closed by Server.Shutdown, ends the relay with 1001 going away
	// to both sides; nil never does.
	stop <-chan struct{}
	// held is the budget of unfinished messages the relay counts against
	// its agent's uid; nil counts nothing. progress bounds a started
	// message in time (wsProgress); 0 does not.
	held     *heldBytes
	uid      uint32
	progress time.Duration
}

// assembler reads p's frames under the relay's bounds; hold counts what
// the direction holds, and its owner drops it when the direction ends.
func (r *wsRelay) assembler(p *wsPeer, hold *holding) *assembler {
	return &assembler{r: p.r, conn: p.conn, progress: r.progress, hold: hold}
}

// holding is a direction's share of the agent's budget.
func (r *wsRelay) holding() *holding { return &holding{b: r.held, uid: r.uid} }

// run relays an upgraded connection both ways (relayUp, relayDown) until
// either side ends or stop closes, then ends both and records how it went.
// A side whose frames fail the connection is sent a close naming the
// error (1002 protocol error, 1008 policy, 1009 too big) and the other
// side a close of its own (wsPeer.gone), so neither is left with half a
// message; an agent whose message was refused gets 1008 and the reason; a
// side a write failed on gets 1011 (if it still can) and the other its
// own; at shutdown both get 1001; only then are both sockets closed. Every
// ending but a side's clean close or its connection's end is a deny with
// its rule. rec is touched only by run: the relay's goroutines count into
// the peers.
func (r *wsRelay) run() {
	type end struct {
		from *wsPeer
		err  error
	}
	ends := make(chan end, 2)
	go func() { ends <- end{r.agent, r.relayUp()} }()
	go func() { ends <- end{r.upstream, r.relayDown()} }()
	pending := 2
	var first end
	stopped := false
	select {
	case first = <-ends:
		pending--
	case <-r.stop:
		stopped = true
	}
	// Nothing more goes through either way, so the counts are final and
	// no frame follows the record but the closes below.
	rec := r.rec
	rec.BytesUp, rec.BytesDown = r.upstream.end(), r.agent.end()
	var fe *frameError
	var refused *refusedMessage
	var we *writeError
	switch {
	case stopped:
		rec.Decision, rec.Reason = audit.Allow, reasonShutdown
	case errors.As(first.err, &fe):
		rec.Decision, rec.Rule = audit.Deny, fe.rule
		rec.Reason = fmt.Sprintf("websocket closed: the %s sent %s", first.from.side, fe.msg)
	case errors.As(first.err, &refused):
		rec.Decision, rec.Rule, rec.Reason = audit.Deny, refused.rule, refused.Error()
	case errors.As(first.err, &we):
		rec.Decision, rec.Rule, rec.Error = audit.Deny, ruleWrite, we.err.Error()
		rec.Reason = "websocket ended: writing to the " + we.to.side + " failed"
	default:
		rec.Decision, rec.Reason = audit.Allow, "websocket relayed"
	}
	r.write(rec)
	switch {
	case stopped:
		sendCloses(closing{r.agent, closeGoingAway, "agent-vault is shutting down"},
			closing{r.upstream, closeGoingAway, "agent-vault is shutting down"})
	case fe != nil:
		failConnection(first.from, r.other(first.from), fe)
	case refused != nil:
		sendCloses(closing{r.agent, closePolicy, "agent-vault: " + refused.Error()},
			closing{r.upstream, r.upstream.gone, "agent-vault: the agent's message was refused"})
	case we != nil:
		sendCloses(closing{we.to, closeInternal, "agent-vault: a write to this side failed"},
			closing{r.other(we.to), r.other(we.to).gone, "agent-vault: the " + we.to.side + "'s connection failed"})
	}
	r.agent.conn.Close()
	r.upstream.conn.Close()
	for ; pending > 0; pending-- {
		<-ends
	}
}

// other is the side that is not p.
func (r *wsRelay) other(p *wsPeer) *wsPeer {
	if p == r.upstream {
		return r.agent
	}
	return r.upstream
}

// failConnection tells bad why its frames end the connection and other
// that it ends (see sendCloses).
func failConnection(bad, other *wsPeer, fe *frameError) {
	sendCloses(closing{bad, fe.status, "agent-vault: " + fe.msg},
		closing{other, other.gone, "agent-vault: the " + bad.side + " broke the WebSocket protocol"})
}

// closing is a close frame for a peer.
type closing struct {
	p      *wsPeer
	status uint16
	reason string
}

// sendCloses sends each peer its close, all at once and each within
// closeWait: a write blocked on a peer that does not read is cut by the
// deadline, not waited for, and does not keep the other side from being
// told.
func sendCloses(cs ...closing) {
	deadline := time.Now().Add(closeWait)
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() {
			c.p.conn.SetWriteDeadline(deadline)
			c.p.close(c.status, c.reason)
		})
	}
	wg.Wait()
}

// relayUp relays the agent's frames to upstream: each text message with
// its placeholders substituted, by the engine in force, where a binding
// allows the websocket surface (RewriteText refuses anything else, which
// ends the connection), each message as one frame, control frames as they
// come. A data message after a reload took away the agent's binding for
// the host ends the connection too (wsEngines.engineFor).
func (r *wsRelay) relayUp() error {
	hold := r.holding()
	defer hold.drop()
	return r.assembler(r.agent, hold).run(func(op byte, msg []byte) error {
		engine, err := r.engines.engineFor(r.agentName, r.host)
		if err != nil {
			return err
		}
		if op == opText {
			out, err := engine.RewriteText(r.agentName, r.host, msg)
			if err != nil {
				return &refusedMessage{ruleSubstitution, err}
			}
			// RewriteText gives back a message without placeholders as
			// it is: only a new one carries this engine's secret.
			if len(out) > 0 && &out[0] != &msg[0] {
				if err := r.engines.substituted(engine); err != nil {
					return err
				}
			}
			msg = out
		}
		return relayTo(r.upstream, frame{fin: true, op: op, payload: msg})
	}, func(f frame) error { return relayTo(r.upstream, f) })
}

// relayDown relays upstream's frames to the agent, scrubbing data messages
// as one stream and each control frame on its own. What the stream holds
// back is let go only when upstream ends it (a close, or its end of the
// connection); frames that fail the connection end it with the held
// messages kept, as they end in what may be the start of a secret. What
// the stream holds counts against the agent's budget until it has gone to
// the agent.
func (r *wsRelay) relayDown() error {
	upstream, agent := r.upstream, r.agent
	hold := r.holding()
	defer hold.drop()
	ms := &scrubChain{agent: r.agentName}
	// Before each of upstream's frames: a stage for each engine relayUp
	// has substituted with since, which it kept before writing the
	// message upstream could be answering.
	catchUp := func() { ms.add(r.engines.since(len(ms.stages))) }
	type pending struct {
		op byte
		n  int // bytes counted in hold
	}
	var held []pending // each message ms holds, oldest first
	send := func(rel [][]byte) error {
		for _, m := range rel {
			p := held[0]
			held = held[1:]
			err := relayTo(agent, frame{fin: true, op: p.op, payload: m})
			hold.shrink(p.n)
			if err != nil {
				return err
			}
		}
		return nil
	}
	err := r.assembler(upstream, hold).run(func(op byte, msg []byte) error {
		if err := hold.grow(len(msg)); err != nil {
			return err
		}
		held = append(held, pending{op, len(msg)})
		catchUp()
		rel, err := ms.push(msg)
		if errors.Is(err, subst.ErrHeldTooLong) {
			return errScrubHold
		}
		if err != nil {
			return err
		}
		return send(rel)
	}, func(f frame) error {
		catchUp()
		if f.op == opClose {
			// Nothing can complete a held message now.
			if err := send(ms.flush()); err != nil {
				return err
			}
		}
		f.payload = ms.control(f)
		return relayTo(agent, f)
	})
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		catchUp()
		send(ms.flush())
	}
	return err
}
