package broker

import (
	"crypto/rand"
	"encoding/binary"
	"io"
)

// WebSocket framing (RFC 6455 section 5), just enough to rewrite message
// payloads in flight: frames are read whole (bounded), unmasked, changed,
// and written again with a fresh mask when they travel client -> server.

const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA

	// maxMessage bounds one reassembled message; larger ones end the
	// connection rather than slip through unexamined.
	maxMessage = 1 << 20
	// maxControl bounds a control frame's payload (RFC 6455 5.5).
	maxControl = 125
)

// Close statuses (RFC 6455 7.4.1, and 1014 from the IANA registry).
const (
	closeGoingAway     = 1001
	closeProtocolError = 1002
	closeTooBig        = 1009
	closeBadGateway    = 1014
)

// A frameError is a frame, or a sequence of frames, that fails the
// WebSocket connection (RFC 6455 7.1.7): its sender is told status, and
// the audit record names rule.
type frameError struct {
	status uint16
	rule   string
	msg    string
}

func (e *frameError) Error() string { return e.msg }

// Rules a frameError names in the audit record.
const (
	ruleFragmentation = "websocket.fragmentation" // RFC 6455 5.4
	ruleControl       = "websocket.control"       // RFC 6455 5.5
	ruleOpcode        = "websocket.opcode"        // RFC 6455 5.2
	ruleReservedBits  = "websocket.reserved-bits" // RFC 6455 5.2
	ruleSize          = "websocket.size"          // agent-vault's bound
)

var (
	errTooLarge = &frameError{closeTooBig, ruleSize, "a websocket message larger than 1 MiB"}
	errReserved = &frameError{closeProtocolError, ruleReservedBits, "a websocket frame with a reserved bit set: no extension was negotiated, and a compressed payload would hide a secret from the scrubber"}

	errOrphanContinuation = &frameError{closeProtocolError, ruleFragmentation, "a continuation frame with no message started"}
	errInterrupted        = &frameError{closeProtocolError, ruleFragmentation, "a new data frame inside a fragmented message"}
	errFragmentedControl  = &frameError{closeProtocolError, ruleControl, "a control frame without FIN"}
	errControlTooLong     = &frameError{closeProtocolError, ruleControl, "a control frame over 125 bytes"}
	errReservedOpcode     = &frameError{closeProtocolError, ruleOpcode, "a frame with a reserved opcode"}
)

type frame struct {
	fin     bool
	rsv     byte
	op      byte
	payload []byte
}

// readFrame reads one frame and unmasks its payload. It refuses, before
// reading the payload, what no sequence may hold: reserved bits and
// opcodes, and a control frame that is fragmented or over 125 bytes.
func readFrame(r io.Reader) (frame, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return frame{}, err
	}
	f := frame{fin: h[0]&0x80 != 0, rsv: h[0] & 0x70, op: h[0] & 0x0f}
	if f.rsv != 0 {
		return frame{}, errReserved
	}
	switch f.op {
	case opContinuation, opText, opBinary, opClose, opPing, opPong:
	default:
		return frame{}, errReservedOpcode
	}
	control := f.op >= 0x8
	if control && !f.fin {
		return frame{}, errFragmentedControl
	}
	masked := h[1]&0x80 != 0
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return frame{}, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return frame{}, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if control && n > maxControl {
		return frame{}, errControlTooLong
	}
	if n > maxMessage {
		return frame{}, errTooLarge
	}
	var key [4]byte
	if masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return frame{}, err
		}
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(r, f.payload); err != nil {
		return frame{}, err
	}
	if masked {
		for i := range f.payload {
			f.payload[i] ^= key[i%4]
		}
	}
	return f, nil
}

// writeFrame writes f, masked with a fresh key when mask is set.
func writeFrame(w io.Writer, f frame, mask bool) error {
	b := make([]byte, 0, 14+len(f.payload))
	first := f.op | f.rsv
	if f.fin {
		first |= 0x80
	}
	b = append(b, first)
	var m byte
	if mask {
		m = 0x80
	}
	switch n := len(f.payload); {
	case n < 126:
		b = append(b, m|byte(n))
	case n <= 0xffff:
		b = append(b, m|126, byte(n>>8), byte(n))
	default:
		b = append(b, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if mask {
		var key [4]byte
		rand.Read(key[:])
		b = append(b, key[:]...)
		start := len(b)
		b = append(b, f.payload...)
		for i := start; i < len(b); i++ {
			b[i] ^= key[(i-start)%4]
		}
	} else {
		b = append(b, f.payload...)
	}
	_, err := w.Write(b)
	return err
}

// messages reassembles data frames into whole messages and calls onMessage
// with each; control frames go to onControl as they come, between the
// fragments of a message too (RFC 6455 5.4 allows that). It returns nil
// after a close frame, the reader's error, or a *frameError for a sequence
// the RFC says fails the connection: a continuation with no message
// started, or a new message before the last one finished. A message it
// could not finish is never handed on, in part or joined to another: the
// substitution and the scrubber must see the message the far side will.
func messages(r io.Reader, onMessage func(op byte, msg []byte) error, onControl func(frame) error) error {
	var op byte // opcode of the message being assembled; 0 between messages
	var buf []byte
	for {
		f, err := readFrame(r)
		if err != nil {
			return err
		}
		if f.op >= 0x8 {
			if err := onControl(f); err != nil {
				return err
			}
			if f.op == opClose {
				return nil
			}
			continue
		}
		switch {
		case f.op == opContinuation && op == 0:
			return errOrphanContinuation
		case f.op != opContinuation && op != 0:
			return errInterrupted
		case f.op != opContinuation:
			op, buf = f.op, buf[:0]
		}
		if len(buf)+len(f.payload) > maxMessage {
			return errTooLarge
		}
		buf = append(buf, f.payload...)
		if f.fin {
			msgOp := op
			op = 0
			if err := onMessage(msgOp, buf); err != nil {
				return err
			}
			buf = nil
		}
	}
}
