package fleet

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clemhq/clem/shared/runstate"
)

// Transcripts lists an agent's iteration transcripts, oldest first (the
// runner's files under <state dir>/transcripts).
func Transcripts(stateDir string) ([]string, error) {
	ns, err := runstate.Transcripts(stateDir)
	paths := make([]string, len(ns))
	for i, n := range ns {
		paths[i] = runstate.TranscriptPath(stateDir, n)
	}
	return paths, err
}

// Follow copies the newest transcript to w as it grows, moving on to each
// newer one, until ctx ends. render turns raw lines into what is shown.
func Follow(ctx context.Context, stateDir string, w io.Writer, render func(io.Writer, io.Reader) error) error {
	var cur string
	var off int64
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		paths, err := Transcripts(stateDir)
		if err != nil {
			return err
		}
		if n := len(paths); n > 0 && paths[n-1] != cur {
			cur, off = paths[n-1], 0
			io.WriteString(w, "── "+filepath.Base(cur)+"\n")
		}
		if cur != "" {
			if off, err = copyNewLines(cur, off, w, render); err != nil {
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

// copyNewLines renders the complete lines of path after off; it returns
// the offset after the last complete line.
func copyNewLines(path string, off int64, w io.Writer, render func(io.Writer, io.Reader) error) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return off, nil // rotated away: the next tick finds the newer one
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return off, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return off, err
	}
	end := strings.LastIndexByte(string(b), '\n')
	if end < 0 {
		return off, nil
	}
	return off + int64(end+1), render(w, strings.NewReader(string(b[:end+1])))
}
