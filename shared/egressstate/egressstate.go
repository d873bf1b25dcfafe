// Package egressstate is the record the egress guard (`clem egress watch`,
// root, in the project's egress unit) keeps of the nftables table, and the
// watchdog reads to alert: how often the table was found changed or gone,
// when it was restored, and whether the last check passed. It is the only
// contract between those two privilege domains, so both import it from
// here. The file holds no secret (it is the same kind of information as
// egress.json) and is written by root only.
package egressstate

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/clemhq/clem/shared/fsutil"
	"github.com/clemhq/clem/shared/runstate"
)

// FileName is the state file's name inside the egress unit's runtime
// directory (/run/clem/<project>/egress/).
const FileName = "state.json"

// Path is where a project's egress state lives.
func Path(project string) string {
	return filepath.Join("/run/clem", project, "egress", FileName)
}

// State is one snapshot of the guard's view. Counters only grow while the
// guard runs, so a reader alerts once per new tamper and once per recovery
// by comparing counts, never by timing.
type State struct {
	Project string    `json:"project"`
	Checked time.Time `json:"checked"` // the last comparison of the live table with egress.json
	OK      bool      `json:"ok"`      // that comparison found no difference

	Tampered   uint64    `json:"tampered"`             // differences found since the guard started
	LastTamper time.Time `json:"last_tamper,omitzero"` // when the latest was found
	LastDiff   string    `json:"last_diff,omitempty"`  // what differed, as `clem egress verify` says it

	Restored     uint64    `json:"restored"`                // successful restores since the guard started
	LastRestore  time.Time `json:"last_restore,omitzero"`   // when the latest finished
	RestoreError string    `json:"restore_error,omitempty"` // the last restore's failure, "" once one succeeds
}

// maxDiff bounds the difference text kept in the file.
const maxDiff = 2048

// Write replaces the state file atomically (0644: the watchdog's user reads it).
func Write(path string, s *State) error {
	c := *s
	c.LastDiff = runstate.Clean(c.LastDiff, maxDiff)
	c.RestoreError = runstate.Clean(c.RestoreError, maxDiff)
	data, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, append(data, '\n'), 0o644)
}

// Read loads a state file with the same safe open as runner state files
// (no symlink, no FIFO, bounded size).
func Read(path string) (*State, error) {
	data, err := runstate.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}
