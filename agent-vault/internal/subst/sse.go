package subst

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// maxEventLine bounds one line of an event stream; a longer one ends it.
const maxEventLine = 1 << 20

var errEventLine = errors.New("scrubber: event-stream line longer than 1 MiB")

// EventStream returns a reader of r, a text/event-stream body, in which the
// data lines of all events are scrubbed as one text (see MessageStream): a
// client that joins the data of successive events would otherwise rebuild
// a secret an upstream sent half in one event and half in the next. Lines
// are split as the event-stream format says (CR LF, LF or a lone CR), so the
// scrubber sees the lines the client will. Other lines pass as they are; the
// caller still runs the whole body through Reader for forms within a line.
// A line waits while a data line before it is held back. If r fails, the
// waiting lines are dropped.
//
// Before that, the JSON deltas of model APIs are scrubbed stream by stream
// (see DeltaStream): the text a client shows is the deltas' strings joined,
// and the halves of a secret split over two deltas are not contiguous in the
// data lines.
func (s *Scrubber) EventStream(r io.Reader) io.Reader { return s.eventStream(r, true) }

// eventStream is EventStream, with the delta layer or (for tests' controls)
// without it.
func (s *Scrubber) eventStream(r io.Reader, deltas bool) io.Reader {
	if len(s.m.pats) == 0 {
		return r
	}
	if deltas {
		r = &deltaReader{ds: s.Deltas(), br: bufio.NewReaderSize(r, 64<<10)}
	}
	return &sseReader{ms: s.Messages(), br: bufio.NewReaderSize(r, 64<<10)}
}

type sseLine struct {
	prefix, value, term []byte // value is nil for a line that is not data
	data, filled        bool
}

type sseReader struct {
	ms      *MessageStream
	br      *bufio.Reader
	lines   []*sseLine // read, not yet written out
	fill    []*sseLine // data lines whose scrubbed value is still to come
	started bool       // a line has been read (the BOM is only skipped before the first)
	pull
}

func (r *sseReader) Read(p []byte) (int, error) { return r.pull.read(p, r.step) }

// pull is the output side of a reader that produces its bytes a step at a
// time: out holds what the last step released, err ends the stream once
// out is drained.
type pull struct {
	out []byte
	off int
	err error
}

// read serves p from out, calling step for more until out has bytes or
// err is set.
func (r *pull) read(p []byte, step func()) (int, error) {
	for r.off == len(r.out) {
		if r.err != nil {
			return 0, r.err
		}
		r.out, r.off = r.out[:0], 0
		step()
	}
	n := copy(p, r.out[r.off:])
	r.off += n
	return n, nil
}

// step reads up to the next LF and moves every line it can to out.
func (r *sseReader) step() {
	chunk, err := readEventChunk(r.br)
	for len(chunk) > 0 {
		n, tn := lineEnd(chunk)
		r.line(chunk[:n], chunk[n:n+tn])
		chunk = chunk[n+tn:]
	}
	if r.err != nil { // a Push failed
		err = r.err
	}
	if err == io.EOF {
		r.filled(r.ms.Flush())
	}
	r.emit()
	if err != nil {
		r.err = err
		if err != io.EOF {
			r.out, r.lines = r.out[:0], nil
		}
	}
}

// readEventChunk returns bytes up to and including the next LF (or to
// EOF): one or more lines, since a lone CR ends a line too.
func readEventChunk(br *bufio.Reader) ([]byte, error) {
	var long []byte
	for {
		b, err := br.ReadSlice('\n')
		if err != bufio.ErrBufferFull {
			if long != nil {
				return append(long, b...), err
			}
			return bytes.Clone(b), err
		}
		long = append(long, b...)
		if len(long) > maxEventLine {
			return nil, errEventLine
		}
	}
}

// lineEnd finds the first line of b: its length and its terminator's.
func lineEnd(b []byte) (n, term int) {
	for i, c := range b {
		switch c {
		case '\n':
			return i, 1
		case '\r':
			if i+1 < len(b) && b[i+1] == '\n' {
				return i, 2
			}
			return i, 1
		}
	}
	return len(b), 0
}

func (r *sseReader) line(text, term []byte) {
	l := &sseLine{prefix: text, term: term}
	first := !r.started
	r.started = true
	if v, ok := dataValue(text, first); ok {
		l.prefix, l.data = text[:v], true
		r.lines, r.fill = append(r.lines, l), append(r.fill, l)
		rel, err := r.ms.Push(text[v:])
		if err != nil {
			r.err = err
			return
		}
		r.filled(rel)
		return
	}
	r.lines = append(r.lines, l)
}

// dataValue says whether text, one line without its terminator, is a data
// line, and where its value starts. A client drops a byte order mark
// before the first line, and one space after the colon.
func dataValue(text []byte, first bool) (v int, ok bool) {
	bom := 0
	if first && bytes.HasPrefix(text, []byte("\ufeff")) {
		bom = 3
	}
	t := text[bom:]
	if !bytes.HasPrefix(t, []byte("data")) || len(t) > 4 && t[4] != ':' {
		return 0, false
	}
	v = bom + 4
	if len(t) > 4 {
		v++
		if len(t) > 5 && t[5] == ' ' {
			v++
		}
	}
	return v, true
}

// filled hands released values to the oldest data lines waiting for one.
func (r *sseReader) filled(rel [][]byte) {
	for _, v := range rel {
		r.fill[0].value, r.fill[0].filled = v, true
		r.fill = r.fill[1:]
	}
}

// emit writes out the lines from the first on, up to one still waiting.
func (r *sseReader) emit() {
	i := 0
	for ; i < len(r.lines); i++ {
		l := r.lines[i]
		if l.data && !l.filled {
			break
		}
		r.out = append(append(append(r.out, l.prefix...), l.value...), l.term...)
	}
	r.lines = r.lines[i:]
}
