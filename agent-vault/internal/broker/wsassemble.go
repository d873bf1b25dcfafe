package broker

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// wsProgress bounds how long a WebSocket message, once its first byte has
// arrived, may take to arrive whole (its frames, and control frames between
// them). A quiet connection with nothing started has no bound: idle
// WebSockets are normal. 1 MiB in 30s is 35 KB/s.
const wsProgress = 30 * time.Second

// messages reassembles data frames into whole messages and calls onMessage
// with each; control frames go to onControl as they come, between the
// fragments of a message too (RFC 6455 5.4 allows that). It returns nil
// after a close frame, the reader's error, or a *frameError for a sequence
// the RFC says fails the connection: a continuation with no message
// started, or a new message before the last one finished. A message it
// could not finish is never handed on, in part or joined to another: the
// substitution and the scrubber must see the message the far side will.
func messages(r io.Reader, onMessage func(op byte, msg []byte) error, onControl func(frame) error) error {
	return (&assembler{r: r}).run(onMessage, onControl)
}

// An assembler reads one side's frames into messages, holding no more of a
// message than has arrived: a header's declared length is checked against
// the bound before any of its payload is read, and the buffer grows as the
// payload comes (readPayload), so a peer that declares a large frame and
// goes quiet holds nothing. A relay's assemblers also bound a started
// message in time (progress) and count what it holds against the agent's
// budget (hold).
type assembler struct {
	r io.Reader
	// conn is given the read deadline that bounds a started message;
	// with progress 0 there is none.
	conn     interface{ SetReadDeadline(time.Time) error }
	progress time.Duration
	// hold counts the buffer of the message being assembled; its
	// refusal ends the relay (errHeldAgent, errHeldTotal).
	hold *holding
}

// run is messages.
func (a *assembler) run(onMessage func(op byte, msg []byte) error, onControl func(frame) error) error {
	clock := &clockReader{r: a.r}
	if a.conn != nil && a.progress > 0 {
		clock.conn, clock.progress = a.conn, a.progress
	}
	r := io.Reader(clock)
	var op byte // opcode of the message being assembled; 0 between messages
	var buf []byte
	reserved := 0 // of buf's capacity, counted in hold
	grow := func(n int) error {
		if err := a.hold.grow(n); err != nil {
			return err
		}
		reserved += n
		return nil
	}
	defer func() { a.hold.shrink(reserved) }()
	for {
		h, err := readHeader(r)
		if err != nil {
			return clock.why(err)
		}
		if h.op >= 0x8 {
			p, err := readPayload(r, h, nil, h.n, nil)
			if err != nil {
				return clock.why(err)
			}
			if op == 0 {
				clock.stop()
			}
			if err := onControl(frame{fin: true, op: h.op, payload: p}); err != nil {
				return err
			}
			if h.op == opClose {
				return nil
			}
			continue
		}
		switch {
		case h.op == opContinuation && op == 0:
			return errOrphanContinuation
		case h.op != opContinuation && op != 0:
			return errInterrupted
		case h.op != opContinuation:
			op = h.op
		}
		if len(buf)+h.n > maxMessage {
			return errTooLarge
		}
		limit := maxMessage
		if h.fin {
			limit = len(buf) + h.n
		}
		if buf, err = readPayload(r, h, buf, limit, grow); err != nil {
			return clock.why(err)
		}
		if h.fin {
			msgOp := op
			op = 0
			clock.stop()
			if err := onMessage(msgOp, buf); err != nil {
				return err
			}
			buf = nil
			a.hold.shrink(reserved)
			reserved = 0
		}
	}
}

// clockReader starts the progress clock when a read brings the first bytes
// of a frame while none is running: a read deadline progress ahead, which
// stop clears once nothing is started.
type clockReader struct {
	r        io.Reader
	conn     interface{ SetReadDeadline(time.Time) error } // nil: no clock
	progress time.Duration
	running  bool
}

func (c *clockReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 && !c.running && c.conn != nil {
		c.running = true
		c.conn.SetReadDeadline(time.Now().Add(c.progress))
	}
	return n, err
}

// stop clears the deadline: nothing started is waiting to arrive.
func (c *clockReader) stop() {
	if c.running {
		c.running = false
		c.conn.SetReadDeadline(time.Time{})
	}
}

// why says why a read failed: the clock's running out is the sender's
// doing (errStalled), anything else is the connection's.
func (c *clockReader) why(err error) error {
	if c.running && errors.Is(err, os.ErrDeadlineExceeded) {
		return &frameError{closePolicy, ruleStalled, fmt.Sprintf("a websocket message that did not arrive whole within %v", c.progress)}
	}
	return err
}
