package broker

import (
	"bytes"
	"encoding/binary"
	"errors"
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
		{0x81, 0xfe, 0x00},                                // truncated length
		{0x81, 0x85, 0x01, 0x02},                          // truncated mask
		{0x81, 0x05, 'h', 'i'},                            // truncated payload
		{0x81, 0x7e, 0x00, 0x05, 'a', 'b', 'c', 'd', 'e'}, // non-minimal length
	}
}

// FuzzReadFrame: whatever an agent or an upstream sends, readFrame does
// not panic, refuses reserved bits and payloads over the bound, and a
// frame it reads is written back by writeFrame as one that reads the same.
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
		if fr.rsv != 0 || len(fr.payload) > maxMessage || fr.op > 0x0f {
			t.Fatalf("readFrame(%x) = rsv %x, op %x, %d bytes", raw, fr.rsv, fr.op, len(fr.payload))
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

// FuzzMessages: reassembly never hands on a message over the bound or a
// control frame as data, and stops at a close frame. (A continuation with
// no message started is handed on with op 0, as messages does today: the
// agent's is not substituted and upstream's is scrubbed like any other.)
func FuzzMessages(f *testing.F) {
	for _, s := range wsFrameSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		closed := false
		messages(bytes.NewReader(raw), func(op byte, msg []byte) error {
			if closed || len(msg) > maxMessage || op >= 0x8 {
				t.Fatalf("message op %x of %d bytes (after close: %v)", op, len(msg), closed)
			}
			return nil
		}, func(fr frame) error {
			if closed || fr.op < 0x8 {
				t.Fatalf("control frame op %x (after close: %v)", fr.op, closed)
			}
			closed = fr.op == opClose
			return nil
		})
	})
}
