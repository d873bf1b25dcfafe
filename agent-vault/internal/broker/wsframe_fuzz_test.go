package broker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

// wsFrameSeeds are frames as agents and upstreams send them, and broken
// ones: the fuzz targets' seeds.
func wsFrameSeeds() [][]byte {
	masked := func(first byte, payload string) []byte {
		var b bytes.Buffer
		writeFrame(&b, frame{fin: first&0x80 != 0, op: first & 0x0f, payload: []byte(payload)}, true)
		return b.Bytes()
	}
	plain := func(first byte, payload []byte) []byte {
		var b bytes.Buffer
		writeFrame(&b, frame{fin: first&0x80 != 0, op: first & 0x0f, payload: payload}, false)
		return b.Bytes()
	}
	huge := []byte{0x82, 127}
	huge = binary.BigEndian.AppendUint64(huge, maxMessage+1)
	return [][]byte{
		masked(0x81, "Bearer "+phLead),
		plain(0x81, []byte("hello")),
		plain(0x82, bytes.Repeat([]byte{'x'}, 300)),   // 16-bit length
		plain(0x82, bytes.Repeat([]byte{'y'}, 70000)), // 64-bit length
		append(masked(0x01, "Bearer __clem_"), masked(0x80, "lead_api_00112233445566778899__")...), // fragmented
		append(masked(0x89, "ping"), masked(0x88, "\x03\xe8bye")...),                               // ping, close
		{0xc1, 0x05, 'h', 'e', 'l', 'l', 'o'},                                                      // RSV1: compressed
		huge,
		{0x81, 0xfe, 0x00},                                       // truncated length
		{0x81, 0x85, 0x01, 0x02},                                 // truncated mask
		{0x81, 0x05, 'h', 'i'},                                   // truncated payload
		{0x81, 0x7e, 0x00, 0x05, 'a', 'b', 'c', 'd', 'e'},        // non-minimal length
		wire(true, fr{0x80, "x"}),                                // continuation first
		wire(false, fr{0x81, "a"}, fr{0x80, "b"}),                // continuation after a message
		wire(true, fr{0x01, "a"}, fr{0x82, "b"}),                 // new message inside one
		wire(false, fr{0x01, "a"}, fr{0x89, "p"}, fr{0x80, "b"}), // ping between fragments
		wire(true, fr{0x09, "p"}),                                // fragmented ping
		wire(false, fr{0x8A, strings.Repeat("p", 126)}),          // long pong
		wire(true, fr{0x83, "x"}),                                // reserved opcode
	}
}

// FuzzReadFrame: whatever an agent or an upstream sends, readFrame does
// not panic, refuses reserved bits and opcodes, payloads over the bound and
// control frames that are fragmented or over 125 bytes, and a frame it
// reads is written back by writeFrame as one that reads the same.
func FuzzReadFrame(f *testing.F) {
	for _, s := range wsFrameSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		fr, err := readFrame(bytes.NewReader(raw))
		if err != nil {
			if len(raw) >= 2 && raw[0]&0x70 != 0 && !errors.Is(err, errReserved) {
				t.Fatalf("readFrame(%x) with a reserved bit = %v, want errReserved", raw[:1], err)
			}
			return
		}
		if fr.rsv != 0 || len(fr.payload) > maxMessage || !knownOp(fr.op) || fr.op >= 0x8 && (!fr.fin || len(fr.payload) > maxControl) {
			t.Fatalf("readFrame(%x) = fin %v, rsv %x, op %x, %d bytes", raw, fr.fin, fr.rsv, fr.op, len(fr.payload))
		}
		for _, mask := range []bool{false, true} {
			var b bytes.Buffer
			if err := writeFrame(&b, fr, mask); err != nil {
				t.Fatal(err)
			}
			again, err := readFrame(&b)
			if err != nil || again.fin != fr.fin || again.op != fr.op || !bytes.Equal(again.payload, fr.payload) || b.Len() != 0 {
				t.Fatalf("frame %+v written (mask %v) reads back as %+v, %v", fr, mask, again, err)
			}
		}
	})
}

// knownOp says whether op is one RFC 6455 defines.
func knownOp(op byte) bool {
	switch op {
	case opContinuation, opText, opBinary, opClose, opPing, opPong:
		return true
	}
	return false
}

// FuzzMessages: reassembly hands on only whole text and binary messages
// within the bound, and whole control frames of at most 125 bytes, each
// counted once among the data frames read (a message is never joined to
// another, or handed on in part); it stops at a close frame, and at
// anything else it ends with the reader's error or a frameError.
func FuzzMessages(f *testing.F) {
	for _, s := range wsFrameSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		// What the frames before the one messages stopped at carry.
		var dataFrames, dataBytes int
		r := bytes.NewReader(raw)
		for {
			fr, err := readFrame(r)
			if err != nil || fr.op == opClose {
				break
			}
			if fr.op < 0x8 {
				dataFrames++
				dataBytes += len(fr.payload)
			}
		}
		closed := false
		var msgs, msgBytes int
		err := messages(bytes.NewReader(raw), func(op byte, msg []byte) error {
			if closed || len(msg) > maxMessage || op != opText && op != opBinary {
				t.Fatalf("message op %x of %d bytes (after close: %v)", op, len(msg), closed)
			}
			msgs++
			msgBytes += len(msg)
			return nil
		}, func(fr frame) error {
			if closed || fr.op < 0x8 || !fr.fin || len(fr.payload) > maxControl {
				t.Fatalf("control frame op %x, fin %v, %d bytes (after close: %v)", fr.op, fr.fin, len(fr.payload), closed)
			}
			closed = fr.op == opClose
			return nil
		})
		var fe *frameError
		switch {
		case err == nil && !closed:
			t.Fatalf("messages ended without a close or an error")
		case err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, &fe):
			t.Fatalf("messages = %v, want EOF or a frameError", err)
		}
		if msgs > dataFrames || msgBytes > dataBytes {
			t.Fatalf("%d messages of %d bytes from %d data frames of %d bytes", msgs, msgBytes, dataFrames, dataBytes)
		}
	})
}
