package audit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// fileMode lets the daemon's group (the operator) read the log and no one
// else; it is set explicitly so a strict umask cannot narrow it.
const fileMode = 0o640

// OpenFile returns a Writer appending to path. Once the file would grow past
// maxBytes it is rotated: path.N-1 becomes path.N and so on, path becomes
// path.1, and a fresh path is started, keeping keep old files. maxBytes 0
// turns rotation off, for logrotate to do it with Reopen. A record longer
// than maxBytes still goes in, alone in its file.
func OpenFile(path string, maxBytes int64, keep int) (*Writer, error) {
	if maxBytes < 0 {
		return nil, fmt.Errorf("audit: open %s: maxBytes %d is negative", path, maxBytes)
	}
	if maxBytes > 0 && keep < 1 {
		return nil, fmt.Errorf("audit: open %s: rotating needs keep >= 1 old files, got %d", path, keep)
	}
	f, size, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	return &Writer{out: f, file: f, path: path, size: size, maxBytes: maxBytes, keep: keep}, nil
}

// Reopen closes the file and opens path again, creating it if it was renamed
// away: send SIGHUP after logrotate moves the log. If path cannot be opened
// the Writer keeps the old file, so no record is lost. A no-op for a stream
// Writer.
func (w *Writer) Reopen() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("audit: reopen %s: %w", w.name(), os.ErrClosed)
	}
	if w.file == nil {
		return nil
	}
	f, size, err := openAppend(w.path)
	if err != nil {
		return fmt.Errorf("audit: reopen: %w", err)
	}
	old := w.file
	w.file, w.out, w.size = f, f, size
	if err := old.Close(); err != nil {
		return fmt.Errorf("audit: reopen %s: close old file: %w", w.path, err)
	}
	return nil
}

// openAppend opens path for appending, creating it with fileMode. O_NOFOLLOW
// keeps a symlink planted at the log path from redirecting the daemon's
// writes elsewhere.
func openAppend(path string) (*os.File, int64, error) {
	const flags = os.O_WRONLY | os.O_APPEND | syscall.O_NOFOLLOW
	for range 3 { // the file may vanish or appear between the two opens
		f, err := os.OpenFile(path, flags|os.O_CREATE|os.O_EXCL, fileMode)
		if err == nil {
			if err := f.Chmod(fileMode); err != nil {
				f.Close()
				return nil, 0, fmt.Errorf("audit: open %s: %w", path, err)
			}
			return f, 0, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, 0, fmt.Errorf("audit: open %s: %w", path, err)
		}
		f, err = os.OpenFile(path, flags, 0)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("audit: open %s: %w", path, err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("audit: open %s: %w", path, err)
		}
		return f, fi.Size(), nil
	}
	return nil, 0, fmt.Errorf("audit: open %s: file keeps appearing and vanishing", path)
}

// rotate moves the current file to path.1 and starts a fresh one; w.mu is
// held. The fresh file is created first under a temporary name, so a failure
// to create it (no space, no permission) aborts before any backup has been
// shifted. Every step is a rename, so each name always holds a whole file,
// and until the swap the old descriptor keeps writing into what is now
// path.1, so nothing is lost whichever step fails.
func (w *Writer) rotate() error {
	dir, base := filepath.Split(w.path)
	if dir == "" {
		dir = "."
	}
	fresh, err := os.CreateTemp(dir, "."+base+".new-*")
	if err != nil {
		return fmt.Errorf("audit: rotate %s: %w", w.path, err)
	}
	abort := func(err error) error {
		fresh.Close()
		os.Remove(fresh.Name())
		return fmt.Errorf("audit: rotate %s: %w", w.path, err)
	}
	if err := fresh.Chmod(fileMode); err != nil {
		return abort(err)
	}
	for i := w.keep - 1; i >= 1; i-- {
		if err := os.Rename(w.backup(i), w.backup(i+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return abort(err)
		}
	}
	if err := os.Rename(w.path, w.backup(1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return abort(err)
	}
	if err := os.Rename(fresh.Name(), w.path); err != nil {
		// path is missing now, but the old file (path.1) still takes the
		// records and the next write tries again.
		return abort(err)
	}
	old := w.file
	w.file, w.out, w.size = fresh, fresh, 0
	if err := old.Close(); err != nil {
		return fmt.Errorf("audit: rotate %s: close old file: %w", w.path, err)
	}
	return nil
}

func (w *Writer) backup(i int) string {
	return w.path + "." + strconv.Itoa(i)
}
