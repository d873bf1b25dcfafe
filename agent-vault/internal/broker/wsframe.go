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
	closePolicy        = 1008
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
	ruleStalled       = "websocket.stalled"       // a message's progress bound (wsProgress)
	ruleBudget        = "websocket.budget"        // the agent's budget of unfinished messages (wsHeldPerAgent)
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

// frameHeader is a frame up to its payload.
type frameHeader struct {
	fin    bool
	rsv    byte
	op     byte
	masked bool
	key    [4]byte
	n      int // payload length, at most maxMessage
}

// payloadChunk is how much of a payload is read at once: a buffer grows by
// what has arrived, never by what a header merely declares.
const payloadChunk = 64 << 10

// readHeader reads a frame's header. It refuses, before the payload, what
// no sequence may hold: reserved bits and opcodes, a control frame that is
// fragmented or over 125 bytes, and a payload over maxMessage.
func readHeader(r io.Reader) (frameHeader, error) {
	var b [2]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return frameHeader{}, err
	}
	h := frameHeader{fin: b[0]&0x80 != 0, rsv: b[0] & 0x70, op: b[0] & 0x0f, masked: b[1]&0x80 != 0}
	if h.rsv != 0 {
		return frameHeader{}, errReserved
	}
	switch h.op {
	case opContinuation, opText, opBinary, opClose, opPing, opPong:
	default:
		return frameHeader{}, errReservedOpcode
	}
	control := h.op >= 0x8
	if control && !h.fin {
		return frameHeader{}, errFragmentedControl
	}
	n := uint64(b[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return frameHeader{}, err
		}
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return frameHeader{}, err
		}
		n = binary.BigEndian.Uint64(l[:])
	}
	if control && n > maxControl {
		return frameHeader{}, errControlTooLong
	}
	if n > maxMessage {
		return frameHeader{}, errTooLarge
	}
	h.n = int(n)
	if h.masked {
		if _, err := io.ReadFull(r, h.key[:]); err != nil {
			return frameHeader{}, err
		}
	}
	return h, nil
}

// readFrame reads one frame whole and unmasks its payload (see
// readHeader for what it refuses).
func readFrame(r io.Reader) (frame, error) {
	h, err := readHeader(r)
	if err != nil {
		return frame{}, err
	}
	p, err := readPayload(r, h, nil, h.n, nil)
	if err != nil {
		return frame{}, err
	}
	return frame{fin: h.fin, rsv: h.rsv, op: h.op, payload: p}, nil
}

// readPayload appends h's payload to buf, unmasked. buf grows a chunk at a
// time as the bytes arrive, to at most limit bytes of capacity (the most
// the message can come to); grow, unless nil, is told each growth's bytes
// first and may refuse it. On an error buf holds what was read.
func readPayload(r io.Reader, h frameHeader, buf []byte, limit int, grow func(int) error) ([]byte, error) {
	start := len(buf)
	end := start + h.n
	for len(buf) < end {
		k := min(end-len(buf), payloadChunk)
		if cap(buf)-len(buf) < k {
			c := min(max(2*cap(buf), len(buf)+k), max(limit, len(buf)+k))
			if grow != nil {
				if err := grow(c - cap(buf)); err != nil {
					return buf, err
				}
			}
			nb := make([]byte, len(buf), c)
			copy(nb, buf)
			buf = nb
		}
		m := len(buf)
		if _, err := io.ReadFull(r, buf[m:m+k]); err != nil {
			return buf, err
		}
		buf = buf[:m+k]
		if h.masked {
			for i := m; i < m+k; i++ {
				buf[i] ^= h.key[(i-start)%4]
			}
		}
	}
	return buf, nil
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
