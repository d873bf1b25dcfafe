// Package systemd reads the state of services from systemd over D-Bus,
// read-only: active state, result, restart count, the main process's exit
// and the ExecStartPre= steps, and tells from them why a unit does not run.
// An unprivileged user may read these properties on the system bus; nothing
// here starts, stops or changes a unit. Only the watchdog imports it.
package systemd

import (
	"fmt"
	"strings"
)

// State is what systemd says about one service unit.
type State struct {
	Name        string
	LoadState   string // loaded, not-found, masked, error, ...
	ActiveState string // active, activating, deactivating, inactive, failed, reloading
	SubState    string // running, auto-restart, start-pre, dead, failed, ...
	// ActiveEnter is when the unit last became active, in µs since the
	// epoch (0: never since systemd started).
	ActiveEnter uint64

	Result    string // success, exit-code, signal, core-dump, watchdog, timeout, start-limit-hit, ...
	NRestarts uint32 // automatic restarts since the last explicit start
	// Restart is the unit's Restart= setting (no, always, on-failure, ...).
	// A failed unit that systemd would restart has hit its start limit:
	// after automatic restarts systemd 252 keeps the last failure's Result
	// (exit-code, say), and says start-limit-hit only when the failed start
	// was not itself a restart.
	Restart string
	MainPID uint32
	// ExecMainCode is the si_code of the main process's end (CLD_EXITED 1,
	// CLD_KILLED 2, CLD_DUMPED 3; 0 while it runs or when it never ran)
	// and ExecMainStatus its exit status or signal.
	ExecMainCode   int32
	ExecMainStatus int32
	// ExecMainStart is when the main process last started, in µs of
	// CLOCK_MONOTONIC (0: it never ran).
	ExecMainStart uint64
	StartPre      []Exec // the ExecStartPre= steps, as last run
}

// Exec is one command of an Exec*= list, as systemd last ran it.
type Exec struct {
	Path string
	// Argv is the command line as the unit file gives it (argv[0] first);
	// the unit is root's, so it is systemd's words, not an agent's.
	Argv []string
	// Start and Exit are µs of CLOCK_MONOTONIC (0: not run / still running).
	Start, Exit uint64
	PID         uint32
	Code        int32 // si_code: CLD_EXITED 1, CLD_KILLED 2, CLD_DUMPED 3
	Status      int32 // exit status, or the signal
}

// si_code values of a finished process.
const (
	cldExited = 1
	cldKilled = 2
	cldDumped = 3
)

// maxCommand bounds a command line quoted in a problem text.
const maxCommand = 200

// Command is the command line for messages: the argv joined with spaces
// (the path when systemd gave none), at most maxCommand bytes.
func (e Exec) Command() string {
	c := strings.Join(e.Argv, " ")
	if len(e.Argv) == 0 {
		c = e.Path
	}
	if len(c) > maxCommand {
		n := maxCommand
		for n > 0 && c[n]&0xC0 == 0x80 {
			n--
		}
		c = c[:n] + "..."
	}
	return c
}

// Failed reports whether the command ran to an end that counts as failure.
func (e Exec) Failed() bool {
	if e.Exit == 0 {
		return false
	}
	return (e.Code == cldExited && e.Status != 0) || e.Code == cldKilled || e.Code == cldDumped
}

// Outcome describes the command's end: "exited with status 3", "was
// killed by signal 9".
func (e Exec) Outcome() string {
	switch e.Code {
	case cldExited:
		return fmt.Sprintf("exited with status %d", e.Status)
	case cldKilled:
		return fmt.Sprintf("was killed by signal %d", e.Status)
	case cldDumped:
		return fmt.Sprintf("dumped core on signal %d", e.Status)
	}
	return fmt.Sprintf("ended with code %d status %d", e.Code, e.Status)
}

// StartPreFailure returns the ExecStartPre= step that failed the unit's
// latest start attempt: one whose end is a failure and that ran after the
// main process last started (or the main process never ran), so the main
// process was never started in that attempt. ok is false when the latest
// attempt did not fail there.
func (s State) StartPreFailure() (Exec, bool) {
	for i := len(s.StartPre) - 1; i >= 0; i-- {
		e := s.StartPre[i]
		if e.Start == 0 {
			continue // never ran: an earlier step failed first
		}
		if e.Start < s.ExecMainStart {
			return Exec{}, false // the main process ran after this attempt
		}
		if e.Failed() {
			return e, true
		}
		return Exec{}, false // the last step that ran succeeded
	}
	return Exec{}, false
}

// GaveUp reports whether systemd stopped restarting a failed unit that it
// restarts by policy: its start limit was hit.
func (s State) GaveUp() bool {
	return s.ActiveState == "failed" && (s.Result == "start-limit-hit" || (s.Restart != "" && s.Restart != "no" && s.NRestarts > 0))
}

// Running reports whether the unit is up: active, or reloading.
func (s State) Running() bool {
	return s.ActiveState == "active" || s.ActiveState == "reloading"
}

// Restarting reports whether systemd waits to restart the unit (RestartSec=).
func (s State) Restarting() bool {
	return s.ActiveState == "activating" && s.SubState == "auto-restart"
}

// MainOutcome describes how the main process last ended, "" if it never
// ended.
func (s State) MainOutcome() string {
	if s.ExecMainCode == 0 {
		return ""
	}
	return Exec{Code: s.ExecMainCode, Status: s.ExecMainStatus, Exit: 1}.Outcome()
}
