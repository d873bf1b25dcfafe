package check

import (
	"errors"
	"strconv"
	"time"

	"github.com/clemhq/clem/watchdog/internal/statefile"
	"github.com/clemhq/clem/watchdog/internal/systemd"
)

// FailingIterations is how many iterations in a row must fail before the
// state file's failures count as a problem; one failed iteration is the
// runner's to retry with backoff. A rejected credential counts from the
// first: it does not heal by itself.
const FailingIterations = 2

// Agent holds the rules' memory for one agent.
type Agent struct {
	Key        string
	StallAfter time.Duration
	// Grace is how long a freshly started runner may take to write its
	// state file.
	Grace time.Duration

	unit       unitMemory
	stallsSeen bool
	stalls     int
}

// Check judges one round: the unit's state (or the error reading it) and
// the runner's state file (or the error reading it).
func (a *Agent) Check(now time.Time, u systemd.State, uerr error, st *statefile.State, serr error) []Problem {
	ps := a.unit.unit(u, uerr, true)
	if uerr != nil || !u.Running() {
		return ps // the state file says nothing more while the runner is down
	}
	upFor := time.Duration(0)
	if u.ActiveEnter > 0 {
		upFor = now.Sub(time.UnixMicro(int64(u.ActiveEnter)))
	}
	young := upFor < a.Grace
	if serr != nil {
		if !young {
			if errors.Is(serr, statefile.ErrNotExist) {
				ps = append(ps, warn(KindStateFile, "the runner has written no state file in %v", upFor.Truncate(time.Second)))
			} else {
				ps = append(ps, warn(KindStateFile, "cannot read the runner's state: %v", serr))
			}
		}
		return ps
	}
	if st.PID != int(u.MainPID) {
		if !young {
			ps = append(ps, warn(KindStateFile, "the state file is from pid %d but the unit's runner is pid %d: the runner does not write its state", st.PID, u.MainPID))
		}
		return ps
	}
	ps = append(ps, a.progress(now, st)...)
	return append(ps, a.results(st)...)
}

// progress: is the runner's loop moving?
func (a *Agent) progress(now time.Time, st *statefile.State) []Problem {
	var ps []Problem
	switch st.Phase {
	case statefile.Running:
		c := st.Current // statefile.Parse refuses running without it
		last := c.Started
		if c.LastEvent.After(last) {
			last = c.LastEvent
		}
		if now.Sub(last) > a.StallAfter {
			ps = append(ps, crit(KindStalled, "stalled: iteration %d has made no progress for %s, %d events so far", c.Iteration, ago(now, last), c.Events))
		}
	case statefile.Sleeping, statefile.Backoff:
		due := st.NextAt
		if due.IsZero() {
			due = st.Updated
		}
		if now.Sub(due) > a.StallAfter {
			ps = append(ps, crit(KindRunnerStuck, "runner stuck: in phase %s, the next iteration was due %s", st.Phase, ago(now, due)))
		}
	default: // starting, stopping
		if now.Sub(st.Updated) > a.StallAfter {
			ps = append(ps, crit(KindRunnerStuck, "runner stuck: in phase %s for %s", st.Phase, ago(now, st.Updated)))
		}
	}
	if a.stallsSeen && st.Stalls > a.stalls {
		n := st.Stalls - a.stalls
		ps = append(ps, warn(KindStalls, "%d iteration%s stalled and %s killed by the runner (%d stalls in all)", n, plural(n), map[bool]string{true: "was", false: "were"}[n == 1], st.Stalls))
	}
	a.stallsSeen, a.stalls = true, st.Stalls
	return ps
}

// results: do the iterations keep failing?
func (a *Agent) results(st *statefile.State) []Problem {
	l := st.Last
	if l == nil || st.ConsecutiveFailures < 1 {
		return nil
	}
	status := 0
	if l.APIErrorStatus != nil {
		status = *l.APIErrorStatus
	}
	switch status {
	case 401:
		return []Problem{crit(KindCredentials, "the model API rejects the agent's credential (HTTP 401, %d failed iteration%s in a row): expired or revoked; renew it with sudo clem login %s",
			st.ConsecutiveFailures, plural(st.ConsecutiveFailures), a.Key)}
	case 403:
		return []Problem{crit(KindCredentials, "the model API refuses the agent's credential (HTTP 403, %d failed iteration%s in a row): check its permissions or renew it with sudo clem login %s",
			st.ConsecutiveFailures, plural(st.ConsecutiveFailures), a.Key)}
	}
	if st.ConsecutiveFailures < FailingIterations {
		return nil
	}
	why := "exit code " + strconv.Itoa(l.ExitCode)
	switch {
	case l.Stalled:
		why = "stalled"
	case l.TimedOut:
		why = "hit the iteration time limit"
	case status != 0:
		why = "model API HTTP " + strconv.Itoa(status)
	}
	return []Problem{warn(KindFailing, "%d iterations in a row failed (the last, %d: %s)", st.ConsecutiveFailures, l.Iteration, why)}
}
