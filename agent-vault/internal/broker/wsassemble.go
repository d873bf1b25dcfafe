package broker

import "io"

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
// goes quiet holds nothing.
type assembler struct {
	r io.Reader
}

// run is messages.
func (a *assembler) run(onMessage func(op byte, msg []byte) error, onControl func(frame) error) error {
	var op byte // opcode of the message being assembled; 0 between messages
	var buf []byte
	for {
		h, err := readHeader(a.r)
		if err != nil {
			return err
		}
		if h.op >= 0x8 {
			p, err := readPayload(a.r, h, nil, h.n, nil)
			if err != nil {
				return err
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
		if buf, err = readPayload(a.r, h, buf, limit, nil); err != nil {
			return err
		}
		if h.fin {
			msgOp := op
			op = 0
			if err := onMessage(msgOp, buf); err != nil {
				return err
			}
			buf = nil
		}
	}
}
