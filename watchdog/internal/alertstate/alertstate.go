// Package alertstate keeps what the watchdog must not forget when it is
// restarted (kill -9, a SIGSTOP that systemd ends, an upgrade) in one file:
// each subject's alert state by cause (package policy), so that a subject
// that alerted and is still bad does not alert again and its recovery is
// still sent, and the alerts coord has not taken yet (package outbox), so
// that they are delivered after the restart. The watchdog writes it
// atomically after every change and reads it at start; a file it cannot
// use is logged and ignored (it starts fresh), never a reason not to run.
// Only the watchdog imports it.
package alertstate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/clemhq/clem/shared/fsutil"
	"github.com/clemhq/clem/watchdog/internal/outbox"
	"github.com/clemhq/clem/watchdog/internal/policy"
)

// Version is the format this watchdog writes and the only one it reads: a
// file from another version (a newer watchdog, rolled back) is ignored
// rather than half understood.
const Version = 1

// MaxSize bounds the file: the outbox holds at most outbox.Max alerts of at
// most 32 KiB each, and the subjects' states are small.
const MaxSize = 16 << 20

// State is the file's content.
type State struct {
	Version int `json:"version"`
	// Subjects are the alert states, by subject id ("agent lead",
	// "daemon pipelock").
	Subjects map[string]Subject `json:"subjects,omitempty"`
	// Outbox is the alerts waiting for coord, oldest first.
	Outbox []outbox.Item `json:"outbox,omitempty"`
}

// Subject is one subject's alert state.
type Subject struct {
	// Unit is the service unit the state is about: a subject now watched
	// under another unit is another unit's story, and its state is
	// dropped on load (as a reload drops it).
	Unit   string                  `json:"unit"`
	Causes map[string]policy.Track `json:"causes"`
}

// Encode renders s in this version. The same state always gives the same
// bytes (encoding/json sorts map keys), so the watchdog can tell whether
// anything changed since it last wrote.
func Encode(s *State) ([]byte, error) {
	c := *s
	c.Version = Version
	data, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode alert state: %w", err)
	}
	return append(data, '\n'), nil
}

// ErrVersion: the file is from another version of the watchdog.
var ErrVersion = errors.New("alert state file of another version")

// Decode parses a file's content strictly: unknown fields, trailing data
// (json.Unmarshal refuses it) and another version are errors.
func Decode(data []byte) (*State, error) {
	var probe struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("decode alert state: %w", err)
	}
	if probe.Version != Version {
		return nil, fmt.Errorf("%w: version %d, this watchdog reads %d", ErrVersion, probe.Version, Version)
	}
	var s State
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("decode alert state: %w", err)
	}
	for id, sub := range s.Subjects {
		if sub.Unit == "" {
			return nil, fmt.Errorf("decode alert state: subject %q has no unit", id)
		}
	}
	for i, it := range s.Outbox {
		if it.ID == "" || it.Alert.Subject == "" {
			return nil, fmt.Errorf("decode alert state: outbox[%d] has no id or no subject", i)
		}
	}
	return &s, nil
}

// Read reads and decodes the file at path. A missing file is an error
// wrapping os.ErrNotExist (the first start). It does not follow a
// symbolic link and reads only a regular file of at most MaxSize.
func Read(path string) (*State, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("read alert state: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read alert state %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read alert state %s: not a regular file (%v)", path, fi.Mode().Type())
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read alert state %s: %w", path, err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("read alert state %s: over %d bytes", path, MaxSize)
	}
	s, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Write replaces the file at path with data (from Encode): a temporary
// file in the same directory, fsync, rename, fsync of the directory, so a
// kill or a crash leaves either the old state or the new one. Only the
// watchdog's user reads it (0600).
func Write(path string, data []byte) error {
	if err := fsutil.WriteFileAtomic(path, data, 0o600); err != nil {
		return fmt.Errorf("save alert state: %w", err)
	}
	return nil
}
