package daemon

import (
	"fmt"
	"time"

	"github.com/clemhq/clem/shared/runstate"
)

// StatusLine is systemd's STATUS= text: what the runner does now, in words.
func StatusLine(st *runstate.State, now time.Time, loc *time.Location) string {
	cost := fmt.Sprintf("$%.2f today", st.CostToday(now, loc))
	switch st.Phase {
	case runstate.Running:
		if c := st.Current; c != nil {
			return fmt.Sprintf("iteration %d running %s, %d events, %s", c.Iteration, short(now.Sub(c.Started)), c.Events, cost)
		}
	case runstate.Sleeping, runstate.Backoff:
		next := st.NextAt.In(loc).Format("15:04:05")
		if st.Last == nil {
			return fmt.Sprintf("first iteration at %s, %s", next, cost)
		}
		if st.Phase == runstate.Backoff {
			return fmt.Sprintf("iteration %d failed (%d in a row: %s), retry at %s, %s",
				st.Last.Iteration, st.ConsecutiveFailures, runstate.Clip(st.Last.Error, 80), next, cost)
		}
		return fmt.Sprintf("iteration %d %s (%d turns, $%.2f), next at %s, %s",
			st.Last.Iteration, st.Last.Outcome(), st.Last.Turns, st.Last.CostUSD, next, cost)
	case runstate.Stopping:
		return "stopping"
	}
	return "starting"
}

// short is a duration rounded for people: 45s, 3m, 1h12m.
func short(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}
