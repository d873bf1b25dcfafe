// Package statefile reads a runner's state file (<state_dir>/state.json)
// for the watchdog. The agent's user writes that file, so it is untrusted
// input: it is opened without following symbolic links and without
// blocking on a FIFO, must be a regular file of bounded size, and decodes
// into the few fields the watchdog judges by. Only the watchdog imports it.
//
// The runner owns the format (shared/runstate once it lands); this reader
// decodes the fields the watchdog uses by their documented JSON names and
// ignores the rest.
package statefile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// MaxSize bounds the file; the runner's state is a few KiB.
const MaxSize = 1 << 20

// Phases of the runner's loop.
const (
	Starting = "starting"
	Running  = "running"
	Sleeping = "sleeping"
	Backoff  = "backoff"
	Stopping = "stopping"
)

// State is what the watchdog reads of a runner's state file.
type State struct {
	Agent               string    `json:"agent"`
	PID                 int       `json:"pid"`
	Updated             time.Time `json:"updated"`
	Phase               string    `json:"phase"`
	Iteration           int64     `json:"iteration"`
	Current             *Current  `json:"current,omitempty"`
	NextAt              time.Time `json:"next_at,omitzero"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	Stalls              int64     `json:"stalls"`
	Last                *Last     `json:"last,omitempty"`
}

// Current is the iteration in progress.
type Current struct {
	Iteration int64     `json:"iteration"`
	Started   time.Time `json:"started"`
	Events    int64     `json:"events"`
	LastEvent time.Time `json:"last_event,omitzero"`
}

// Last is the latest finished iteration.
type Last struct {
	Iteration      int64     `json:"iteration"`
	Ended          time.Time `json:"ended,omitzero"`
	ExitCode       int       `json:"exit_code"`
	IsError        bool      `json:"is_error"`
	APIErrorStatus int       `json:"api_error_status"`
	Stalled        bool      `json:"stalled"`
	TimedOut       bool      `json:"timed_out"`
}

// Reader reads one state file; the watchdog's checks depend on this, not on
// the file system.
type Reader interface {
	Read(path string) (*State, error)
}

// Files reads state files from the file system.
type Files struct{}

// Read implements Reader.
func (Files) Read(path string) (*State, error) { return Read(path) }

// ErrNotExist: the runner has not written its state file (yet).
var ErrNotExist = errors.New("no state file")

// Read opens path safely and decodes it.
func Read(path string) (*State, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", path, ErrNotExist)
		}
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("%s is a symbolic link; the runner writes a regular file", path)
		}
		return nil, fmt.Errorf("state file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("state file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%v)", path, fi.Mode().Type())
	}
	if fi.Size() > MaxSize {
		return nil, fmt.Errorf("%s: %d bytes, more than %d", path, fi.Size(), MaxSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	s, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return s, nil
}

// Parse decodes a state file's contents. Errors never quote the input.
func Parse(data []byte) (*State, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%d bytes, more than %d", len(data), MaxSize)
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return nil, fmt.Errorf("not valid JSON at byte %d", se.Offset)
		case errors.As(err, &te):
			return nil, fmt.Errorf("field %q has the wrong type", te.Field)
		}
		return nil, errors.New("not a state file the watchdog can read")
	}
	switch s.Phase {
	case Starting, Running, Sleeping, Backoff, Stopping:
	default:
		return nil, errors.New("unknown phase")
	}
	if s.Phase == Running && s.Current == nil {
		return nil, errors.New("phase running without a current iteration")
	}
	if s.Updated.IsZero() {
		return nil, errors.New("no updated time")
	}
	return &s, nil
}
