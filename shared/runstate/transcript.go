package runstate

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// DefaultKeepTranscripts is how many transcripts the runner keeps unless
// configured otherwise.
const DefaultKeepTranscripts = 50

// TranscriptPath is the transcript of iteration n in dir.
func TranscriptPath(dir string, n int) string {
	return filepath.Join(dir, TranscriptDir, strconv.Itoa(n)+".jsonl")
}

// CreateTranscript creates (or truncates) the transcript of iteration n,
// making the transcripts directory when needed.
func CreateTranscript(dir string, n int) (*os.File, error) {
	if err := os.MkdirAll(filepath.Join(dir, TranscriptDir), 0o750); err != nil {
		return nil, fmt.Errorf("transcripts: %w", err)
	}
	f, err := os.OpenFile(TranscriptPath(dir, n), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, FileMode)
	if err != nil {
		return nil, fmt.Errorf("transcript %d: %w", n, err)
	}
	return f, nil
}

// Transcripts lists the iteration numbers that have a transcript in dir,
// ascending.
func Transcripts(dir string) ([]int, error) {
	ents, err := os.ReadDir(filepath.Join(dir, TranscriptDir))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("transcripts: %w", err)
	}
	return TranscriptNumbers(ents), nil
}

// TranscriptNumbers picks the transcripts out of a directory listing: the
// regular files named <n>.jsonl, by iteration number, ascending. A reader
// that must not follow links lists the directory its own safe way and
// passes the entries here.
func TranscriptNumbers(ents []os.DirEntry) []int {
	var ns []int
	for _, e := range ents {
		num, ok := strings.CutSuffix(e.Name(), ".jsonl")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if n, err := strconv.Atoi(num); err == nil && n >= 0 && strconv.Itoa(n) == num {
			ns = append(ns, n)
		}
	}
	slices.Sort(ns)
	return ns
}

// PruneTranscripts removes all but the newest keep transcripts in dir
// (by iteration number).
func PruneTranscripts(dir string, keep int) error {
	ns, err := Transcripts(dir)
	if err != nil {
		return err
	}
	if keep < 0 {
		keep = 0
	}
	for len(ns) > keep {
		if err := os.Remove(TranscriptPath(dir, ns[0])); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("transcripts: prune: %w", err)
		}
		ns = ns[1:]
	}
	return nil
}
