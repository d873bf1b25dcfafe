// Package check turns one round of observations of a subject (an agent or
// a daemon) into problems: what systemd says about its unit, what the
// runner's state file says, what the daemon's health endpoint answers. It
// keeps the little memory the rules need across rounds (restart and stall
// counters) and decides nothing about alerting: that is package policy.
// Only the watchdog imports it.
//
// Problem texts are built from systemd's words, numbers and times only,
// never from free text in a state file: the agent writes that file, and an
// alert reaches people (and coord marks the watchdog's words as trusted).
package check

import (
	"fmt"
	"strings"
	"time"

	"github.com/clemhq/clem/shared/coordapi"
	"github.com/clemhq/clem/watchdog/internal/systemd"
)

// Problem kinds.
const (
	KindUnreadable  = "unreadable"   // systemd could not be asked about the unit
	KindNotLoaded   = "not-loaded"   // the unit is not installed, masked or broken
	KindEgress      = "egress"       // an agent's ExecStartPre= (egress verification) fails
	KindStartPre    = "start-pre"    // a daemon's ExecStartPre= fails
	KindFailed      = "failed"       // the unit is in the failed state
	KindNotRunning  = "not-running"  // inactive
	KindRestarting  = "restarting"   // waiting to be restarted
	KindRestarted   = "restarted"    // NRestarts grew since the last check
	KindStateFile   = "state-file"   // the runner's state file is missing, unreadable or stale
	KindStalled     = "stalled"      // no progress within stall_after
	KindRunnerStuck = "runner-stuck" // the runner's loop does not move on
	KindStalls      = "stall-killed" // the runner killed a stalled iteration
	KindCredentials = "credentials"  // the model API rejects the credential
	KindFailing     = "failing"      // iterations keep failing
	KindHealth      = "unhealthy"    // the daemon's /healthz does not answer ok

	KindEgressTampered = "egress-tampered" // the egress guard found the table changed (an event)
	KindEgressFailed   = "egress-failed"   // the guard's last restore of the table failed
	KindEgressStale    = "egress-stale"    // the guard's state file is missing or not updated
)

// Problem is one thing wrong with a subject in one round.
type Problem struct {
	Kind     string
	Severity coordapi.Severity // Warning or Critical
	Text     string
	// Now: alert at the first bad check instead of after repeated ones.
	// The cause will not go away by itself (a failed unit: systemd has
	// given up on it) or the rule has already waited (a silent guard).
	Now bool
	// Event: one occurrence (the egress table was changed), seen once when
	// it happens. It alerts at once every time, has no episode, no cooldown
	// and no recovery.
	Event bool
}

// Causes group problem kinds that are one thing to a person: the policy
// keeps one alert state per subject and cause, so a crash loop does not
// swallow a failing egress check (issue 15, item 18).
const (
	CauseFailed     = "failed"     // KindFailed, KindNotRunning
	CauseRestarting = "restarting" // KindRestarting, KindRestarted
	CauseStalled    = "stalled"    // KindStalled, KindRunnerStuck
)

// Cause is the alert cause the problem belongs to: its kind, except for the
// kinds grouped above.
func (p Problem) Cause() string {
	switch p.Kind {
	case KindFailed, KindNotRunning:
		return CauseFailed
	case KindRestarting, KindRestarted:
		return CauseRestarting
	case KindStalled, KindRunnerStuck:
		return CauseStalled
	}
	return p.Kind
}

// causeTitles name causes in recovery messages.
var causeTitles = map[string]string{
	CauseFailed:        "the unit failing",
	CauseRestarting:    "restarting repeatedly",
	CauseStalled:       "making no progress",
	KindUnreadable:     "its unit being unreadable",
	KindNotLoaded:      "its unit not being loaded",
	KindEgress:         "its egress check failing",
	KindStartPre:       "its ExecStartPre failing",
	KindStateFile:      "its state file missing or stale",
	KindStalls:         "stalled iterations",
	KindCredentials:    "its credential being rejected",
	KindFailing:        "failing iterations",
	KindHealth:         "its health check failing",
	KindEgressStale:    "the egress guard being silent",
	KindEgressFailed:   "the egress table not being restored",
	KindEgressTampered: "a changed egress table",
}

// CauseTitle names cause for a person: "restarting repeatedly".
func CauseTitle(cause string) string {
	if t, ok := causeTitles[cause]; ok {
		return t
	}
	return cause
}

func warn(kind, format string, args ...any) Problem {
	return Problem{Kind: kind, Severity: coordapi.Warning, Text: fmt.Sprintf(format, args...)}
}

func crit(kind, format string, args ...any) Problem {
	return Problem{Kind: kind, Severity: coordapi.Critical, Text: fmt.Sprintf(format, args...)}
}

// Worst is the highest severity among ps (Warning when ps is empty).
func Worst(ps []Problem) coordapi.Severity {
	for _, p := range ps {
		if p.Severity == coordapi.Critical {
			return coordapi.Critical
		}
	}
	return coordapi.Warning
}

// Summary joins the problems' texts.
func Summary(ps []Problem) string {
	texts := make([]string, len(ps))
	for i, p := range ps {
		texts[i] = p.Text
	}
	return strings.Join(texts, "; ")
}

// unitMemory is what the unit rules remember between rounds.
type unitMemory struct {
	seen       bool
	restarts   uint32
	restarting bool // the last round saw the unit waiting to restart
}

// unit applies the unit rules. egress says that a failing ExecStartPre= is
// the agent's egress verification.
func (m *unitMemory) unit(u systemd.State, err error, egress bool) []Problem {
	if err != nil {
		m.seen = false
		return []Problem{warn(KindUnreadable, "cannot read the unit's state from systemd: %v", err)}
	}
	if u.LoadState != "loaded" {
		m.seen = false
		return []Problem{crit(KindNotLoaded, "unit %s is %s (not installed? run clem provision)", u.Name, u.LoadState)}
	}
	var ps []Problem
	pre, preFailed := u.StartPreFailure()
	switch {
	case preFailed && !u.Running():
		step := fmt.Sprintf("ExecStartPre %q %s", pre.Command(), pre.Outcome())
		if egress {
			ps = append(ps, crit(KindEgress, "refuses to start: egress rules missing or changed (%s); see clem egress verify", step))
		} else {
			ps = append(ps, crit(KindStartPre, "refuses to start: %s", step))
		}
		if u.ActiveState == "failed" {
			ps = append(ps, failed(u, "ExecStartPre "+pre.Outcome()))
		}
	case u.ActiveState == "failed":
		ps = append(ps, failed(u, ""))
	case u.Restarting():
		p := warn(KindRestarting, "restarting (%s", u.Result)
		if o := u.MainOutcome(); o != "" {
			p.Text += ", main process " + o
		}
		p.Text += fmt.Sprintf(", %d restarts so far)", u.NRestarts)
		ps = append(ps, p)
	case u.ActiveState == "inactive" && u.Result != "success" && u.Result != "":
		p := crit(KindNotRunning, "not running (inactive, %s", u.Result)
		if o := u.MainOutcome(); o != "" {
			p.Text += ", main process " + o
		}
		p.Text += ")"
		p.Now = true // nothing will start it again
		ps = append(ps, p)
		// inactive with Result=success: stopped on purpose (clem down,
		// systemctl stop) or never started; a crash under Restart=always
		// shows as auto-restart or failed instead.
	}
	// While the start attempts fail in ExecStartPre, that failure is the
	// cause and already a problem of its own; counting the restarts it
	// causes too would alert twice for one thing.
	if m.seen && u.NRestarts > m.restarts && !preFailed {
		n := u.NRestarts - m.restarts
		if m.restarting {
			n-- // the restart the last round saw coming
		}
		if n > 0 {
			ps = append(ps, warn(KindRestarted, "restarted %d time%s since the last check (%d restarts in all)", n, plural(n), u.NRestarts))
		}
	}
	m.seen, m.restarts, m.restarting = true, u.NRestarts, u.Restarting()
	return ps
}

// failed is the problem of a unit in the failed state: systemd's Result and
// how the main process (or the step given) ended. It alerts at once: a
// failed unit stays failed until someone acts.
func failed(u systemd.State, how string) Problem {
	p := crit(KindFailed, "unit failed (%s", u.Result)
	if how == "" {
		if o := u.MainOutcome(); o != "" {
			how = "main process " + o
		}
	}
	if how != "" {
		p.Text += ", " + how
	}
	p.Text += ")"
	if u.GaveUp() {
		p.Text += "; systemd stopped restarting it"
		if u.NRestarts > 0 {
			p.Text += fmt.Sprintf(" after %d restart%s (its start limit)", u.NRestarts, plural(u.NRestarts))
		}
		p.Text += ": fix the cause, then systemctl reset-failed " + u.Name + " and clem up"
	}
	p.Now = true
	return p
}

func plural[T uint32 | int](n T) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Ago says how long before now t was, in whole seconds, and when.
func ago(now, t time.Time) string {
	return fmt.Sprintf("%v (since %s)", now.Sub(t).Truncate(time.Second), t.UTC().Format("15:04:05 UTC"))
}
