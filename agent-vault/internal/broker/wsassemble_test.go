package broker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"slices"
	"testing"
)

// errPastHeader is what headerOnly answers a read past the bytes it has:
// the test's reader for "the payload was never asked for".
var errPastHeader = errors.New("read past the frame header")

// headerOnly gives raw, then errPastHeader, as a peer that sent frame
// headers and then nothing would (without blocking the test).
func headerOnly(raw []byte) io.Reader {
	return io.MultiReader(bytes.NewReader(raw), readerFunc(func([]byte) (int, error) { return 0, errPastHeader }))
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// header is a frame header declaring n payload bytes, unmasked.
func header(first byte, n uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{first, 127}, n)
}

// TestMessagesRefuseSizeBeforePayload: a continuation whose declared length
// would take the message past maxMessage is refused from its header, before
// a byte of its payload is asked for (the attack: a message of 1 MiB - 1 and
// a continuation header declaring 1 MiB more had the relay read, and hold,
// the continuation before it checked the sum).
func TestMessagesRefuseSizeBeforePayload(t *testing.T) {
	first := wire(false, fr{0x01, string(make([]byte, maxMessage-1))})
	for _, tt := range []struct {
		name string
		raw  []byte
		want error
	}{
		{"continuation past the bound", slices.Concat(first, header(0x80, 2)), errTooLarge},
		{"one frame past the bound", header(0x82, maxMessage+1), errTooLarge},
		{"control: continuation up to the bound", slices.Concat(first, header(0x80, 1)), errPastHeader},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := messages(headerOnly(tt.raw), func(byte, []byte) error { return nil }, func(frame) error { return nil })
			if !errors.Is(err, tt.want) {
				t.Errorf("messages = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestFrameHeaderHoldsNothing: a frame header declaring 1 MiB, its payload
// not sent, makes the reader allocate no more than a chunk of it: the
// buffer grows as bytes arrive (the attack: one 10-byte header pinned 1 MiB
// of agent-vault's heap for as long as the sender kept quiet).
func TestFrameHeaderHoldsNothing(t *testing.T) {
	raw := header(0x82, maxMessage)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := messages(headerOnly(raw), func(byte, []byte) error { return nil }, func(frame) error { return nil })
	runtime.ReadMemStats(&after)
	if !errors.Is(err, errPastHeader) {
		t.Fatalf("messages = %v, want %v", err, errPastHeader)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > maxMessage/4 {
		t.Errorf("a header declaring %d bytes, and none of them sent, allocated %d bytes; want at most %d", maxMessage, got, maxMessage/4)
	}
}
