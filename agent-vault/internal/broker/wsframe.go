package broker

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
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

	// maxMessage bounds one reassembled message; larger ones end the
	// connection rather than slip through unexamined.
	maxMessage = 1 << 20
)

var (
	errTooLarge = errors.New("websocket message larger than 1 MiB")
	errReserved = errors.New("websocket frame with a reserved bit set: no extension was negotiated, and a compressed payload would hide a secret from the scrubber")

	errOrphanContinuation = errors.New("a continuation frame with no message started")
	errInterrupted        = errors.New("a new data frame inside a fragmented message")
	errFragmentedControl  = errors.New("a control frame without FIN")
	errControlTooLong     = errors.New("a control frame over 125 bytes")
	errReservedOpcode     = errors.New("a frame with a reserved opcode")
)

type frame struct {
	fin     bool
	rsv     byte
	op      byte
	payload []byte
}

// readFrame reads one frame and unmasks its payload.
func readFrame(r io.Reader) (frame, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return frame{}, err
	}
	f := frame{fin: h[0]&0x80 != 0, rsv: h[0] & 0x70, op: h[0] & 0x0f}
	if f.rsv != 0 {
		return frame{}, errReserved
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

// messages reassembles data frames into whole messages (control frames are
// passed to onControl as they come) and calls onMessage with each.
func messages(r io.Reader, onMessage func(op byte, msg []byte) error, onControl func(frame) error) error {
	var op byte
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
		if f.op != opContinuation {
			op, buf = f.op, buf[:0]
		}
		if len(buf)+len(f.payload) > maxMessage {
			return errTooLarge
		}
		buf = append(buf, f.payload...)
		if f.fin {
			if err := onMessage(op, buf); err != nil {
				return err
			}
			buf = nil
		}
	}
}
