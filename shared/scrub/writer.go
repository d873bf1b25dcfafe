package scrub

import (
	"errors"
	"io"
)

// Writer scrubs a stream on its way to w. Each Write passes on at once
// everything that can no longer be part of a form; only the end that could
// still grow into one (shorter than the longest form) waits for the next
// Write or for Close. The bytes w receives, taken together, are what
// Scrubber.Bytes gives for the whole stream, however it was split.
type Writer struct {
	s   *Scrubber
	w   io.Writer
	in  []byte // written to us, not yet passed on: at most longest form - 1 bytes between calls
	out []byte
	err error
}

// ErrClosed is returned by a Write after Close.
var ErrClosed = errors.New("scrub: write after close")

// Writer returns a streaming scrubber writing to w.
func (s *Scrubber) Writer(w io.Writer) *Writer { return &Writer{s: s, w: w} }

// Write scrubs p and passes on what is final. It reports len(p) written
// unless w failed.
func (sw *Writer) Write(p []byte) (int, error) {
	if sw.err != nil {
		return 0, sw.err
	}
	if sw.s.Empty() {
		if _, err := sw.w.Write(p); err != nil {
			sw.err = err
			return 0, err
		}
		return len(p), nil
	}
	sw.in = append(sw.in, p...)
	if err := sw.pass(len(sw.in) - sw.s.pending(sw.in)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Held is how many bytes wait for the next Write or Close.
func (sw *Writer) Held() int { return len(sw.in) }

// Close passes on what was held back (the stream has ended, so nothing can
// complete a form any more). It does not close w.
func (sw *Writer) Close() error {
	if sw.err != nil {
		if sw.err == ErrClosed {
			return nil
		}
		return sw.err
	}
	err := sw.pass(len(sw.in))
	if err == nil {
		sw.err = ErrClosed
	}
	return err
}

// pass replaces the forms that start before stop (each is final: a longer
// or earlier form cut off by the end of in would begin the held end) and
// writes everything up to stop, or to the end of the last form replaced.
func (sw *Writer) pass(stop int) error {
	var end int
	sw.out, end, _ = sw.s.replace(sw.out[:0], sw.in, stop)
	sw.in = sw.in[:copy(sw.in, sw.in[end:])]
	if len(sw.out) == 0 {
		return nil
	}
	if _, err := sw.w.Write(sw.out); err != nil {
		sw.err = err
		return err
	}
	return nil
}
