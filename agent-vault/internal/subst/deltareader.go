package subst

import (
	"bufio"
	"io"
)

// deltaReader runs an event stream through a DeltaStream, line by line.
// If its source fails, the lines still held are dropped, since a string in
// them may end in the start of a secret.
type deltaReader struct {
	ds *DeltaStream
	br *bufio.Reader
	pull
}

func (r *deltaReader) Read(p []byte) (int, error) { return r.pull.read(p, r.step) }

// step reads up to the next LF and moves every line it can release to out.
func (r *deltaReader) step() {
	chunk, err := readEventChunk(r.br)
	for len(chunk) > 0 && r.err == nil {
		n, tn := lineEnd(chunk)
		rel, perr := r.ds.Push(chunk[:n+tn])
		r.emit(rel)
		r.err = perr
		chunk = chunk[n+tn:]
	}
	switch {
	case r.err != nil: // a Push failed
		r.out = r.out[:0]
	case err == io.EOF:
		r.emit(r.ds.Flush())
		r.err = err
	case err != nil:
		r.out, r.err = r.out[:0], err
	}
}

func (r *deltaReader) emit(lines [][]byte) {
	for _, l := range lines {
		r.out = append(r.out, l...)
	}
}
