package audit

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// A daemon that must not act unaudited (pipelock answers no connection
// whose record is not in the log) needs to know, record by record, whether
// the record reached the log, and to hear once when the log starts failing
// and once when it works again. WriteError, Err and OnHealthChange say so.

// WriteError is Write's error when the record did not reach the log (no
// space, an I/O error, a read-only file system, a closed Writer). Any other
// error from Write (a failed rotation) comes with the record written.
type WriteError struct {
	Path string // the log file, or "stream"
	Err  error
}

func (e *WriteError) Error() string { return "audit: write " + e.Path + ": " + e.Err.Error() }
func (e *WriteError) Unwrap() error { return e.Err }

// Unwritten reports whether err, from Write, means the record is not in
// the log.
func Unwritten(err error) bool {
	var we *WriteError
	return errors.As(err, &we)
}

// Err is the error of the latest record that could not be written, or nil
// once one has been written since (or none ever failed). Records a flood
// summary counted instead of writing do not change it.
func (w *Writer) Err() error {
	if p := w.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// OnHealthChange sets f to be called when writes start failing (with the
// error) and when a write succeeds again after a failure (with nil): once
// per outage and once per recovery, in the order they happened. f runs with
// the Writer locked, so it must not write to w; logging to the journal is
// what it is for.
func (w *Writer) OnHealthChange(f func(err error)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.onHealth = f
}

// KeepFree makes writes to a file fail, without writing, while its file
// system has fewer than bytes available to this process. A nearly full
// disk has room for a short record in the last block of the log but not
// for a long one; without a reserve the log would work and fail by turns,
// record by record, and every turn would be an outage and a recovery. 0
// turns it off; a stream Writer ignores it.
func (w *Writer) KeepFree(bytes int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.keepFree = bytes
}

// checkFree returns an error when the file system holding the log has
// fewer than w.keepFree bytes available; w.mu is held.
func (w *Writer) checkFree() error {
	if w.file == nil || w.keepFree <= 0 {
		return nil
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(w.file.Fd()), &st); err != nil {
		return fmt.Errorf("statfs: %w", err)
	}
	if avail := int64(st.Bavail) * int64(st.Bsize); avail < w.keepFree {
		return fmt.Errorf("%w (%d bytes free, fewer than the %d kept in reserve)", syscall.ENOSPC, avail, w.keepFree)
	}
	return nil
}

// truncateTorn cuts off the n bytes of a line a failed write left at the
// end of the file, so the log never holds a torn line; w.mu is held. The
// file's own size says where the line began (not w.size, which an outside
// truncation may have made stale), since O_APPEND put the bytes at the end.
func (w *Writer) truncateTorn(n int) error {
	if w.file == nil || n <= 0 {
		return nil
	}
	fi, err := w.file.Stat()
	if err != nil {
		return fmt.Errorf("a torn line of %d bytes is left: %w", n, err)
	}
	if err := w.file.Truncate(max(fi.Size()-int64(n), 0)); err != nil {
		return fmt.Errorf("a torn line of %d bytes is left: %w", n, err)
	}
	w.size -= int64(n)
	return nil
}

// setHealth records the outcome of a write and tells OnHealthChange when
// it changed; w.mu is held.
func (w *Writer) setHealth(err error) {
	was := w.failed.Load() != nil
	if err == nil {
		if was {
			w.failed.Store(nil)
			if w.onHealth != nil {
				w.onHealth(nil)
			}
		}
		return
	}
	w.failed.Store(&err)
	if !was && w.onHealth != nil {
		w.onHealth(err)
	}
}
