package fleet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/clemhq/clem/shared/runstate"
)

// MaxTranscript bounds how much of one transcript is read: the agent's
// user writes them, so their size is the agent's to choose.
const MaxTranscript = 256 << 20

// The agent's user owns its state directory and everything in it, so a
// transcript may be a symlink to a file only root can read, a FIFO that
// never answers, or a device. Root reads them by opening each component
// through the directory before it, never following a symlink and never
// blocking, and reads only regular files.

// openDir opens dir, a directory under a root-owned path, or name relative
// to the directory parent, refusing a symlink.
func openDir(parent *os.File, name string) (*os.File, error) {
	at := unix.AT_FDCWD
	if parent != nil {
		at = int(parent.Fd())
	}
	fd, err := unix.Openat(at, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// Transcripts lists an agent's iteration transcripts (iteration numbers),
// oldest first, through the state directory's transcripts directory opened
// without following symlinks.
func Transcripts(stateDir string) ([]int, error) {
	dir, err := openTranscriptDir(stateDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	return list(dir)
}

func openTranscriptDir(stateDir string) (*os.File, error) {
	state, err := openDir(nil, stateDir)
	if err != nil {
		return nil, fmt.Errorf("transcripts: %w", err)
	}
	defer state.Close()
	dir, err := openDir(state, runstate.TranscriptDir)
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		return nil, fmt.Errorf("transcripts: %s/%s is not a directory (a symlink?); the runner makes a directory", stateDir, runstate.TranscriptDir)
	}
	if err != nil {
		return nil, fmt.Errorf("transcripts: %w", err)
	}
	return dir, nil
}

func list(dir *os.File) ([]int, error) {
	ents, err := dir.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("transcripts: %w", err)
	}
	return runstate.TranscriptNumbers(ents), nil
}

// OpenTranscript opens iteration n's transcript for reading: no symlink
// followed (at any component under stateDir), no blocking on a FIFO, and
// only a regular file. Reads beyond MaxTranscript bytes see end of file.
func OpenTranscript(stateDir string, n int) (io.ReadCloser, error) {
	f, err := openTranscriptFile(stateDir, n)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, MaxTranscript), f}, nil
}

func openTranscriptFile(stateDir string, n int) (*os.File, error) {
	dir, err := openTranscriptDir(stateDir)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	name := strconv.Itoa(n) + ".jsonl"
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("transcript %s is a symbolic link; the runner writes regular files", name)
	}
	if err != nil {
		return nil, fmt.Errorf("transcript %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("transcript %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("transcript %s is not a regular file (%v)", name, fi.Mode().Type())
	}
	return f, nil
}

// Follow copies the newest transcript to w as it grows, moving on to each
// newer one, until ctx ends. render turns raw lines into what is shown.
func Follow(ctx context.Context, stateDir string, w io.Writer, render func(io.Writer, io.Reader) error) error {
	cur := -1
	var off int64
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		ns, err := Transcripts(stateDir)
		if err != nil {
			return err
		}
		if k := len(ns); k > 0 && ns[k-1] != cur {
			cur, off = ns[k-1], 0
			io.WriteString(w, "── "+strconv.Itoa(cur)+".jsonl\n")
		}
		if cur >= 0 {
			if off, err = copyNewLines(stateDir, cur, off, w, render); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// maxChunk bounds what one follow step reads.
const maxChunk = 16 << 20

// copyNewLines renders the complete lines of transcript n after off; it
// returns the offset after the last complete line.
func copyNewLines(stateDir string, n int, off int64, w io.Writer, render func(io.Writer, io.Reader) error) (int64, error) {
	f, err := openTranscriptFile(stateDir, n)
	if errors.Is(err, os.ErrNotExist) {
		return off, nil // pruned: the next tick finds the newer one
	}
	if err != nil {
		return off, err
	}
	defer f.Close()
	if off >= MaxTranscript {
		return off, nil
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return off, err
	}
	b, err := io.ReadAll(io.LimitReader(f, min(maxChunk, MaxTranscript-off)))
	if err != nil {
		return off, err
	}
	end := strings.LastIndexByte(string(b), '\n')
	if end < 0 {
		if len(b) == maxChunk { // one line longer than a chunk: skip it
			return off + int64(len(b)), nil
		}
		return off, nil
	}
	return off + int64(end+1), render(w, strings.NewReader(string(b[:end+1])))
}

// Raw copies a transcript as recorded for `clem logs --raw`, except that
// control characters (other than newline and tab), C1 controls and bytes
// that are not UTF-8 are shown escaped (\x1b, \u009b): the agent wrote
// these bytes, and the operator's terminal must not act on them.
func Raw(w io.Writer, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var out []byte
	for {
		b, err := br.Peek(utf8.UTFMax)
		if len(b) == 0 {
			if err == io.EOF {
				_, werr := w.Write(out)
				return werr
			}
			return err
		}
		ru, size := utf8.DecodeRune(b)
		switch {
		case ru == utf8.RuneError && size <= 1:
			out = fmt.Appendf(out, `\x%02x`, b[0])
			size = 1
		case ru == '\n' || ru == '\t':
			out = append(out, byte(ru))
		case ru < 0x20 || ru == 0x7f:
			out = fmt.Appendf(out, `\x%02x`, ru)
		case ru >= 0x80 && ru <= 0x9f:
			out = fmt.Appendf(out, `\u%04x`, ru)
		default:
			out = append(out, b[:size]...)
		}
		br.Discard(size)
		if len(out) >= 32<<10 {
			if _, err := w.Write(out); err != nil {
				return err
			}
			out = out[:0]
		}
	}
}
