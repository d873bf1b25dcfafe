// Package statefile reads a runner's state file (<state_dir>/state.json)
// for the watchdog. The agent's user writes that file, so it is untrusted
// input: it is opened without following symbolic links and without
// blocking on a FIFO, must be a regular file of bounded size, and must
// parse (runstate.Parse) with the fields the watchdog's rules rely on.
// Only the watchdog imports it.
//
// The runner owns the format and the safe open (shared/runstate); this
// reader adds the checks the watchdog's rules rely on.
package statefile

import (
	"errors"
	"fmt"
	"os"

	"github.com/clemhq/clem/shared/runstate"
)

// State is the runner's state file, as shared/runstate defines it.
type State = runstate.State

// Phases of the runner's loop.
const (
	Starting = runstate.Starting
	Running  = runstate.Running
	Sleeping = runstate.Sleeping
	Backoff  = runstate.Backoff
	Stopping = runstate.Stopping
)

// MaxSize bounds the file.
const MaxSize = runstate.MaxStateSize

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

// Read opens path safely (runstate.ReadFile) and decodes it.
func Read(path string) (*State, error) {
	data, err := runstate.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	s, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ErrInvalid: the file is not a state file the watchdog can judge by.
var ErrInvalid = errors.New("not a valid state file")

// Parse decodes a state file's contents with runstate.Parse and adds the
// checks the watchdog's rules rely on. Errors never quote the input: the
// agent wrote it, and problem texts reach people as the watchdog's words.
func Parse(data []byte) (*State, error) {
	s, err := runstate.Parse(data)
	if err != nil {
		return nil, ErrInvalid
	}
	if s.Phase == Running && s.Current == nil {
		return nil, fmt.Errorf("%w: phase running without a current iteration", ErrInvalid)
	}
	if s.Updated.IsZero() {
		return nil, fmt.Errorf("%w: no updated time", ErrInvalid)
	}
	return s, nil
}
