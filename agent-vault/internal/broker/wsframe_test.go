package broker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// fr is one frame of a test sequence: first is the frame's first byte
// (FIN, RSV and opcode), as on the wire.
type fr struct {
	first   byte
	payload string
}

// wire writes frames as an agent (masked) or an upstream (unmasked) sends
// them; the first byte is written as given, reserved bits and opcodes too.
func wire(mask bool, frames ...fr) []byte {
	var b bytes.Buffer
	for _, f := range frames {
		writeFrame(&b, frame{fin: f.first&0x80 != 0, rsv: f.first & 0x70, op: f.first & 0x0f, payload: []byte(f.payload)}, mask)
	}
	return b.Bytes()
}

// assembled runs messages over raw and lists what it handed on, as
// "text:..", "binary:..", "ping:..", "pong:..", "close:..", and its error.
func assembled(raw []byte) ([]string, error) {
	var got []string
	name := map[byte]string{opText: "text", opBinary: "binary", 0x9: "ping", 0xA: "pong", opClose: "close"}
	label := func(op byte) string {
		if n, ok := name[op]; ok {
			return n
		}
		return fmt.Sprintf("op%x", op)
	}
	err := messages(bytes.NewReader(raw), func(op byte, msg []byte) error {
		got = append(got, label(op)+":"+string(msg))
		return nil
	}, func(f frame) error {
		got = append(got, label(f.op)+":"+string(f.payload))
		return nil
	})
	return got, err
}

// TestMessagesFragmentation: messages assembles what RFC 6455 section 5.4
// allows (fragments in order, control frames between them) and refuses the
// rest with the protocol error that says why, handing on nothing of a
// message it could not finish: a continuation with no message started, a
// continuation after a finished one, and a new data frame inside a
// fragmented message. Section 5.5: a control frame is never fragmented and
// carries at most 125 bytes. Section 5.2: unknown opcodes and reserved bits
// fail the connection.
func TestMessagesFragmentation(t *testing.T) {
	long := strings.Repeat("p", 125)
	tests := []struct {
		name    string
		frames  []fr
		want    []string
		wantErr error
	}{
		{"one text", []fr{{0x81, "hello"}}, []string{"text:hello"}, io.EOF},
		{"empty text", []fr{{0x81, ""}}, []string{"text:"}, io.EOF},
		{"fragmented text", []fr{{0x01, "a"}, {0x00, "b"}, {0x80, "c"}}, []string{"text:abc"}, io.EOF},
		{"fragmented binary", []fr{{0x02, "a"}, {0x80, "b"}}, []string{"binary:ab"}, io.EOF},
		{"empty fragments", []fr{{0x01, ""}, {0x00, ""}, {0x80, "x"}}, []string{"text:x"}, io.EOF},
		{"messages in a row", []fr{{0x01, "a"}, {0x80, "b"}, {0x82, "c"}, {0x01, "d"}, {0x80, "e"}}, []string{"text:ab", "binary:c", "text:de"}, io.EOF},
		{"ping inside a fragmented message", []fr{{0x01, "a"}, {0x89, "p"}, {0x80, "b"}}, []string{"ping:p", "text:ab"}, io.EOF},
		{"ping and pong inside", []fr{{0x02, "a"}, {0x89, "p"}, {0x00, "b"}, {0x8A, "q"}, {0x80, "c"}}, []string{"ping:p", "pong:q", "binary:abc"}, io.EOF},
		{"control frame of 125 bytes", []fr{{0x89, long}}, []string{"ping:" + long}, io.EOF},
		{"close ends it", []fr{{0x81, "a"}, {0x88, "\x03\xe8"}, {0x81, "after"}}, []string{"text:a", "close:\x03\xe8"}, nil},
		{"close inside a fragmented message drops it", []fr{{0x01, "a"}, {0x88, ""}}, []string{"close:"}, nil},
		{"truncated", []fr{{0x01, "a"}}, nil, io.EOF},

		{"continuation first", []fr{{0x80, "x"}}, nil, errOrphanContinuation},
		{"unfinished continuation first", []fr{{0x00, "x"}, {0x81, "y"}}, nil, errOrphanContinuation},
		{"continuation after a text message", []fr{{0x81, "a"}, {0x80, "b"}}, []string{"text:a"}, errOrphanContinuation},
		{"continuation after a fragmented message", []fr{{0x01, "a"}, {0x80, "b"}, {0x80, "c"}}, []string{"text:ab"}, errOrphanContinuation},
		{"continuation after a binary message", []fr{{0x82, "a"}, {0x00, "b"}, {0x80, "c"}}, []string{"binary:a"}, errOrphanContinuation},
		{"continuation after a control frame", []fr{{0x89, "p"}, {0x80, "b"}}, []string{"ping:p"}, errOrphanContinuation},
		{"text inside a fragmented text", []fr{{0x01, "a"}, {0x81, "b"}}, nil, errInterrupted},
		{"binary inside a fragmented text", []fr{{0x01, "a"}, {0x00, "b"}, {0x82, "c"}}, nil, errInterrupted},
		{"unfinished text inside a fragmented binary", []fr{{0x02, "a"}, {0x01, "b"}, {0x80, "c"}}, nil, errInterrupted},

		{"fragmented ping", []fr{{0x09, "p"}, {0x80, "q"}}, nil, errFragmentedControl},
		{"fragmented close", []fr{{0x08, ""}}, nil, errFragmentedControl},
		{"fragmented pong inside a message", []fr{{0x01, "a"}, {0x0A, "q"}}, nil, errFragmentedControl},
		{"ping of 126 bytes", []fr{{0x89, long + "p"}}, nil, errControlTooLong},
		{"close of 300 bytes", []fr{{0x88, "\x03\xe8" + strings.Repeat("r", 298)}}, nil, errControlTooLong},
		{"reserved data opcode", []fr{{0x83, "x"}}, nil, errReservedOpcode},
		{"reserved opcode inside a message", []fr{{0x01, "a"}, {0x87, "x"}}, nil, errReservedOpcode},
		{"reserved control opcode", []fr{{0x8B, "x"}}, nil, errReservedOpcode},
		{"reserved bit", []fr{{0xc1, "x"}}, nil, errReserved},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, mask := range []bool{true, false} {
				got, err := assembled(wire(mask, tt.frames...))
				if !errors.Is(err, tt.wantErr) || fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("messages(%v, mask %v) = %q, %v; want %q, %v", tt.frames, mask, got, err, tt.want, tt.wantErr)
				}
			}
		})
	}
}

// TestMessagesTooLarge: a message over the bound is refused whether it
// comes in one frame or in fragments, and one at the bound is handed on.
func TestMessagesTooLarge(t *testing.T) {
	half := strings.Repeat("x", maxMessage/2)
	tests := []struct {
		name    string
		frames  []fr
		wantErr error
	}{
		{"at the bound, fragmented", []fr{{0x02, half}, {0x80, half}}, io.EOF},
		{"over the bound, fragmented", []fr{{0x02, half}, {0x00, half}, {0x80, "x"}}, errTooLarge},
		{"over the bound, one frame", []fr{{0x82, half + half + "x"}}, errTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			err := messages(bytes.NewReader(wire(false, tt.frames...)), func(op byte, msg []byte) error {
				n = len(msg)
				return nil
			}, func(frame) error { return nil })
			if !errors.Is(err, tt.wantErr) || tt.wantErr == io.EOF && n != maxMessage {
				t.Errorf("messages = %v after a message of %d bytes, want %v", err, n, tt.wantErr)
			}
		})
	}
}
