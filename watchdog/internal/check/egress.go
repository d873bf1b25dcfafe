package check

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/clemhq/clem/shared/egressstate"
	"github.com/clemhq/clem/shared/runstate"
	"github.com/clemhq/clem/watchdog/internal/systemd"
)

// maxGuardText bounds what of the guard's own words (the difference it
// found, a restore error, a read error) goes into a problem text. The file
// is root's, but an alert is read by people as the watchdog's words, so it
// is clipped and cleaned of control characters all the same.
const maxGuardText = 300

// Egress holds the rules' memory for the egress guard (`clem egress watch`
// in the project's egress unit) and judges its state file.
type Egress struct {
	Project string
	// StaleAfter is how old the guard's last check may be while its unit
	// runs; older means the guard is wedged and the table is not watched.
	StaleAfter time.Duration

	seen     bool
	tampered uint64
}

// Check judges one round: the egress unit's state (or the error reading
// it) and the guard's state file (or the error reading it). The unit's own
// problems (failed, restarting) come from the daemon rules; these are the
// table's.
func (e *Egress) Check(now time.Time, u systemd.State, uerr error, st *egressstate.State, serr error) []Problem {
	running := uerr == nil && u.Running()
	upFor := time.Duration(0)
	if u.ActiveEnter > 0 {
		upFor = now.Sub(time.UnixMicro(int64(u.ActiveEnter)))
	}
	// A guard that has just started may not have written its first check.
	settled := running && upFor >= e.StaleAfter
	if serr != nil {
		if !settled {
			return nil
		}
		if errors.Is(serr, fs.ErrNotExist) {
			return []Problem{e.stale("the egress guard has written no state file in %v while its unit runs: the egress table of project %s is not watched", upFor.Truncate(time.Second), e.Project)}
		}
		return []Problem{e.stale("cannot read the egress guard's state file: %s; the egress table of project %s may not be watched", guardText(serr.Error()), e.Project)}
	}

	var ps []Problem
	if e.seen && st.Tampered < e.tampered {
		e.tampered = 0 // the guard restarted: its counters start again at 0
	}
	if e.seen && st.Tampered > e.tampered {
		ps = append(ps, e.tamper(st, st.Tampered-e.tampered))
	}
	e.seen, e.tampered = true, st.Tampered
	if st.RestoreError != "" {
		p := crit(KindEgressFailed, "the egress guard cannot restore the egress table of project %s: %s; agents' egress is not as configured: see clem egress verify", e.Project, guardText(st.RestoreError))
		p.Now = true
		ps = append(ps, p)
	}
	if settled && now.Sub(st.Checked) > e.StaleAfter {
		ps = append(ps, e.stale("the egress guard last checked the table %s, more than %v ago: it is wedged and the egress table of project %s is not watched; restart its unit", ago(now, st.Checked), e.StaleAfter, e.Project))
	}
	return ps
}

// tamper is the event of n new differences found by the guard.
func (e *Egress) tamper(st *egressstate.State, n uint64) Problem {
	what := fmt.Sprintf("egress table of project %s was changed", e.Project)
	if n > 1 {
		what += fmt.Sprintf(" %d times since the last check (%d in all); the latest", n, st.Tampered)
	}
	diff := guardText(st.LastDiff)
	if diff == "" {
		diff = "no difference recorded"
	}
	var outcome string
	switch {
	case st.RestoreError != "":
		outcome = "restore FAILED: " + guardText(st.RestoreError)
	case st.Restored >= st.Tampered:
		outcome = "restored"
	default:
		outcome = "not restored yet"
	}
	p := crit(KindEgressTampered, "%s: %s; %s", what, diff, outcome)
	p.Now, p.Event = true, true
	return p
}

func (e *Egress) stale(format string, args ...any) Problem {
	p := crit(KindEgressStale, format, args...)
	p.Now = true // the rule has already waited StaleAfter
	return p
}

// guardText clips and cleans text from the guard's file.
func guardText(s string) string { return runstate.Clean(s, maxGuardText) }
