package audit

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Writer writes records, one line each, to a stream or a rotated file. It is
// safe for concurrent use: each record reaches the output in a single Write
// call under a lock, so lines never interleave.
type Writer struct {
	mu     sync.Mutex
	out    io.Writer
	closed bool

	// Set only by OpenFile; see file.go.
	path     string
	file     *os.File
	size     int64
	maxBytes int64
	keep     int

	flood flood // see flood.go; off unless LimitFloods is called

	// See health.go.
	failed   atomic.Pointer[error]
	onHealth func(error)
	keepFree int64
}

// NewWriter returns a Writer to out, typically os.Stdout, which journald
// keeps under systemd. Close does not close out.
func NewWriter(out io.Writer) *Writer {
	return &Writer{out: out}
}

// Buffers come from a pool so concurrent writers encode in parallel without
// allocating; the lock covers only the write itself.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooled keeps one oversized record from pinning a large buffer forever.
const maxPooled = 64 << 10

// Write encodes r as one JSON line and writes it. A record with a zero Time
// is stamped with the current time and one without a ConnID gets a fresh ID;
// r itself is not modified. If a rotated file cannot be rotated, the record
// still goes to the current file and the rotation error is returned. A
// record that did not reach the log returns a *WriteError (see Unwritten),
// and a write that failed part way is cut back off the file, so the log
// never holds a torn line. With LimitFloods set, a refusal over its
// client's allowance is counted instead of written (and Write returns nil),
// except while writes fail: then each refusal tries its own write, so its
// caller learns the record is not there.
func (w *Writer) Write(r *Record) error {
	if w.flood.on.Load() && r.Decision != Allow && w.failed.Load() == nil && w.suppress(r) {
		return nil
	}
	return w.write(r)
}

// write encodes and writes r, past the flood limits.
func (w *Writer) write(r *Record) error {
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	id := r.ConnID
	if id == "" {
		id = NewConnID()
	}
	bp := bufPool.Get().(*[]byte)
	line := append(appendRecord((*bp)[:0], r, t, id), '\n')
	err := w.writeLine(line)
	if cap(line) <= maxPooled {
		*bp = line
		bufPool.Put(bp)
	}
	return err
}

func (w *Writer) writeLine(line []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return &WriteError{Path: w.name(), Err: os.ErrClosed}
	}
	if err := w.checkFree(); err != nil {
		werr := &WriteError{Path: w.name(), Err: err}
		w.setHealth(werr)
		return werr
	}
	var rotateErr error
	if w.file != nil && w.maxBytes > 0 && w.size > 0 && w.size+int64(len(line)) > w.maxBytes {
		rotateErr = w.rotate()
	}
	n, err := w.out.Write(line)
	w.size += int64(n)
	if err == nil && n < len(line) {
		err = io.ErrShortWrite
	}
	if err != nil {
		if n > 0 {
			if terr := w.truncateTorn(n); terr != nil {
				err = fmt.Errorf("%w; %v", err, terr)
			}
		}
		werr := &WriteError{Path: w.name(), Err: err}
		w.setHealth(werr)
		return werr
	}
	w.setHealth(nil)
	return rotateErr
}

// Close writes pending flood summaries, then closes the file opened by
// OpenFile; for a stream Writer it only stops further writes. Writes after
// Close fail with os.ErrClosed.
func (w *Writer) Close() error {
	w.flood.on.Store(false)
	flushErr := w.Flush()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if w.file == nil {
		return flushErr
	}
	if err := w.file.Close(); err != nil {
		return fmt.Errorf("audit: close %s: %w", w.path, err)
	}
	return flushErr
}

func (w *Writer) name() string {
	if w.path != "" {
		return w.path
	}
	return "stream"
}
