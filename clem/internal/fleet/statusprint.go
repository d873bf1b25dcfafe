package fleet

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clemhq/clem/shared/runstate"
)

// Print writes the status table: a line for the daemons, then a row per
// agent.
func (s *Status) Print(w io.Writer, now time.Time) {
	if !s.Systemd {
		fmt.Fprintln(w, "systemd is not PID 1 here: unit states are unknown")
	}
	var ds []string
	for r, u := range s.Daemons {
		ds = append(ds, r+" "+unitWord(u))
	}
	sort.Strings(ds)
	if len(ds) > 0 {
		fmt.Fprintf(w, "project %s: %s\n", s.Project, strings.Join(ds, ", "))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tNAME\tUNIT\tITERATION\tLAST RESULT\tSTALLS\tRESTARTS\tCOST TODAY\tLAST EGRESS REFUSAL")
	for _, a := range s.Agents {
		iter, last, stalls, cost := "-", "-", "-", "-"
		if st := a.State; st != nil {
			iter = iterationWord(st, now)
			last = lastWord(st.Last, now)
			stalls = fmt.Sprint(st.Stalls)
			cost = fmt.Sprintf("$%.2f", st.Today.CostUSD)
		} else if a.StateErr != "" {
			iter = "unreadable state"
		}
		refusal := "-"
		if r := a.Refusal; r != nil {
			refusal = fmt.Sprintf("%s %s ago", r.Target, ago(now, r.Time))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", a.Agent, a.Name, unitWord(a.Unit), iter, last, stalls, a.Unit.Restarts, cost, refusal)
	}
	tw.Flush()
}

func unitWord(u UnitState) string {
	switch {
	case u.LoadState == "" || u.LoadState == "not-found":
		return "-"
	case u.Active == "failed":
		return "failed (" + u.Result + ")"
	case u.Sub != "" && u.Sub != u.Active:
		return u.Active + "/" + u.Sub
	}
	return u.Active
}

func iterationWord(st *runstate.State, now time.Time) string {
	switch st.Phase {
	case runstate.Running:
		if c := st.Current; c != nil {
			return fmt.Sprintf("%d running %s, %d events", c.Iteration, ago(now, c.Started), c.Events)
		}
	case runstate.Sleeping, runstate.Backoff:
		if !st.NextAt.IsZero() {
			return fmt.Sprintf("%d %s, next in %s", st.Iteration, st.Phase, until(now, st.NextAt))
		}
	}
	return fmt.Sprintf("%d %s", st.Iteration, st.Phase)
}

func lastWord(it *runstate.Iteration, now time.Time) string {
	if it == nil {
		return "-"
	}
	when := ago(now, it.Ended) + " ago"
	switch {
	case it.Stalled:
		return "stalled, " + when
	case it.TimedOut:
		return "timed out, " + when
	case it.IsError:
		if it.APIErrorStatus != nil {
			return fmt.Sprintf("failed (API %d), %s", *it.APIErrorStatus, when)
		}
		return fmt.Sprintf("failed (exit %d), %s", it.ExitCode, when)
	}
	return fmt.Sprintf("ok, %d turns $%.2f, %s", it.Turns, it.CostUSD, when)
}

func ago(now, t time.Time) string { return short(now.Sub(t)) }

func until(now, t time.Time) string {
	if t.Before(now) {
		return "0s"
	}
	return short(t.Sub(now))
}

func short(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
