package runstate

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// HistoryMaxSize is the size at which history.jsonl is rotated to
// history.jsonl.1 (replacing the previous one): two generations, at most
// about twice this on disk.
const HistoryMaxSize = 1 << 20

// maxHistoryLine bounds one line a reader accepts.
const maxHistoryLine = 16 << 10

// HistoryPath is history.jsonl in dir.
func HistoryPath(dir string) string { return filepath.Join(dir, HistoryFile) }

// AppendHistory adds one finished iteration to dir/history.jsonl, rotating
// the file first when it has reached maxSize (HistoryMaxSize when 0).
func AppendHistory(dir string, it *Iteration, maxSize int64) error {
	if maxSize <= 0 {
		maxSize = HistoryMaxSize
	}
	line, err := json.Marshal(it)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	path := HistoryPath(dir)
	if fi, err := os.Stat(path); err == nil && fi.Size() >= maxSize {
		if err := os.Rename(path, path+".1"); err != nil {
			return fmt.Errorf("history: rotate: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, FileMode)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("history %s: %w", path, err)
	}
	return f.Close()
}

// ReadHistory returns the newest n iterations of dir's history (both
// generations), oldest first; n <= 0 means all. Lines that do not parse are
// skipped (a crash can cut the last one short).
func ReadHistory(dir string, n int) ([]Iteration, error) {
	var out []Iteration
	for _, p := range []string{HistoryPath(dir) + ".1", HistoryPath(dir)} {
		its, err := readHistoryFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, its...)
	}
	if n > 0 && len(out) > n {
		out = out[len(out)-n:]
	}
	return out, nil
}

func readHistoryFile(path string) ([]Iteration, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	defer f.Close()
	var out []Iteration
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4096), maxHistoryLine)
	for sc.Scan() {
		var it Iteration
		if json.Unmarshal(sc.Bytes(), &it) != nil || it.check() != nil {
			continue
		}
		out = append(out, it)
	}
	if err := sc.Err(); err != nil && !errors.Is(err, bufio.ErrTooLong) {
		return out, fmt.Errorf("history %s: %w", path, err)
	}
	return out, nil
}
