package runstate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"unicode"

	"github.com/clemhq/clem/shared/fsutil"
)

// Names in the state directory.
const (
	StateFile     = "state.json"
	HistoryFile   = "history.jsonl"
	TranscriptDir = "transcripts"
	TmuxSocket    = "tmux.sock"
)

// FileMode is the mode of every file the runner writes there: the watchdog
// reads through the directory's setgid group, nobody else.
const FileMode = 0o640

// MaxStateSize bounds state.json; a reader refuses anything larger.
const MaxStateSize = 64 << 10

// StatePath is state.json in the state directory dir.
func StatePath(dir string) string { return filepath.Join(dir, StateFile) }

// TmuxSocketPath is the agent's tmux server socket in dir.
func TmuxSocketPath(dir string) string { return filepath.Join(dir, TmuxSocket) }

// Write replaces dir/state.json with s atomically: a reader sees the old
// file or the new one, never a mix.
func Write(dir string, s *State) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	return fsutil.WriteFileAtomic(StatePath(dir), append(data, '\n'), FileMode)
}

// Read reads and parses a state file (a path, usually StatePath(dir)). A
// missing file is an error that satisfies errors.Is(err, fs.ErrNotExist).
func Read(path string) (*State, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return s, nil
}

// ReadFile reads a state file the way root and the watchdog must read a
// file in a directory the agent controls: no symlink followed, no blocking
// on a FIFO, a regular file of at most MaxStateSize bytes.
func ReadFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("state file %s is a symbolic link; the runner writes a regular file", path)
	}
	if err != nil {
		return nil, fmt.Errorf("state file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("state file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("state file %s is not a regular file (%v)", path, fi.Mode().Type())
	}
	if fi.Size() > MaxStateSize {
		return nil, fmt.Errorf("state file %s: %d bytes, more than %d", path, fi.Size(), MaxStateSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxStateSize+1))
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return data, nil
}

// Parse decodes a state file and checks it: the agent's user writes it, so
// its readers treat it as untrusted. Sizes are bounded, the phase must be
// known, numbers must not be negative, and control characters in its texts
// become spaces (they end up on operators' terminals).
func Parse(data []byte) (*State, error) {
	if len(data) > MaxStateSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxStateSize)
	}
	var s State
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("not a state file: %w", err)
	}
	if dec.More() {
		return nil, errors.New("not a state file: data after the JSON object")
	}
	if !slices.Contains(Phases, s.Phase) {
		return nil, fmt.Errorf("phase %q is not one of starting, running, sleeping, backoff, stopping", Clip(s.Phase.str(), 40))
	}
	if s.PID < 0 || s.Iteration < 0 || s.ConsecutiveFailures < 0 || s.Stalls < 0 || s.Today.Iterations < 0 || s.Today.CostUSD < 0 {
		return nil, errors.New("a count is negative")
	}
	if s.Current != nil && (s.Current.Iteration < 0 || s.Current.Events < 0 || s.Current.PID < 0) {
		return nil, errors.New("current: a count is negative")
	}
	s.Agent = Clean(s.Agent, 64)
	s.Today.Date = Clean(s.Today.Date, len(DateLayout))
	if s.Last != nil {
		if err := s.Last.check(); err != nil {
			return nil, fmt.Errorf("last: %w", err)
		}
	}
	return &s, nil
}

func (p Phase) str() string { return string(p) }

// check validates and cleans an iteration read from a file.
func (it *Iteration) check() error {
	if it.Iteration < 0 || it.Turns < 0 || it.CostUSD < 0 || it.InputTokens < 0 || it.OutputTokens < 0 || it.Events < 0 {
		return fmt.Errorf("iteration %d: a count is negative", it.Iteration)
	}
	it.SessionID = Clean(it.SessionID, 100)
	it.Error = Clean(it.Error, MaxError)
	it.Result = Clean(it.Result, MaxResult)
	return nil
}

// Clean clips s to n bytes and turns control characters into spaces.
func Clean(s string, n int) string {
	s = Clip(s, n)
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return ' '
		}
		return r
	}, s)
}
