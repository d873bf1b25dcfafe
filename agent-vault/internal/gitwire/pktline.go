package gitwire

import (
	"errors"
	"fmt"
	"io"
)

// errTooLarge is wrapped by every error for a body over its bound, so a
// caller can answer 413-style rather than "malformed".
var errTooLarge = errors.New("body exceeds its size limit")

// ErrTooLarge reports whether err came from a body larger than the bound
// the caller gave.
func ErrTooLarge(err error) bool { return errors.Is(err, errTooLarge) }

// boundedReader counts what it hands out and fails once more than max
// bytes were asked for, so a reader never buffers an unbounded body.
type boundedReader struct {
	r   io.Reader
	n   int64
	max int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.n >= b.max {
		// Probe one byte: a body of exactly max bytes is fine.
		var one [1]byte
		n, err := b.r.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("more than %d bytes: %w", b.max, errTooLarge)
		}
		return 0, err
	}
	if rest := b.max - b.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	return n, err
}

// pkt encodes one pkt-line (payload must be at most 65516 bytes; callers
// here only build short lines or chunk first).
func pkt(payload []byte) []byte {
	out := make([]byte, 0, len(payload)+4)
	out = fmt.Appendf(out, "%04x", len(payload)+4)
	return append(out, payload...)
}

const flushPkt = "0000"

// splitPkt splits the first pkt-line off b: its payload (nil for a flush)
// and the rest. It is for whole bodies already in memory (advertisements).
func splitPkt(b []byte) (payload, rest []byte, err error) {
	if len(b) < 4 {
		return nil, nil, fmt.Errorf("truncated pkt-line length %q", clip(b))
	}
	var n int
	for _, c := range b[:4] {
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return nil, nil, fmt.Errorf("bad pkt-line length %q", clip(b[:4]))
		}
		n = n<<4 | int(v)
	}
	switch {
	case n == 0:
		return nil, b[4:], nil
	case n < 4:
		return nil, nil, fmt.Errorf("special pkt-line %04x where a line or flush belongs", n)
	case n > len(b):
		return nil, nil, fmt.Errorf("pkt-line of %d bytes, only %d left", n, len(b))
	}
	return b[4:n:n], b[n:], nil
}
