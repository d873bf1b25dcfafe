// Package policy decides when the watchdog alerts. Each round gives every
// subject (an agent, a daemon) a good or a bad check; a subject alerts once
// it had `failures` bad checks within `window`, at most once per
// `cooldown`, and sends one recovery message once it had `failures` good
// checks in a row after an alert. Time comes in as arguments, so tests drive
// it with a fake clock. Only the watchdog imports it.
package policy

import (
	"fmt"
	"time"

	"github.com/clemhq/clem/shared/coordapi"
	"github.com/clemhq/clem/watchdog/internal/check"
)

// Kind of a Notice.
type Kind int

// What a round can lead to for a subject.
const (
	// Alert: send it.
	Alert Kind = iota + 1
	// Recovery: the subject alerted and is healthy again; send it.
	Recovery
	// Suppressed: an alert was due but the subject alerted within the
	// cooldown; only logged.
	Suppressed
)

// Notice is the outcome of a round for one subject.
type Notice struct {
	Kind    Kind
	Subject string
	Request coordapi.AlertRequest // Alert and Recovery
	Until   time.Time             // Suppressed: when the cooldown ends
}

// Policy holds every subject's alert state.
type Policy struct {
	Failures int
	Window   time.Duration
	Cooldown time.Duration
	subjects map[string]*track
}

// New returns a policy: failures bad checks within window alert, at most
// once per cooldown.
func New(failures int, window, cooldown time.Duration) *Policy {
	return &Policy{Failures: failures, Window: window, Cooldown: cooldown, subjects: map[string]*track{}}
}

type track struct {
	bad       []time.Time // the latest Failures bad checks, oldest first
	good      int         // good checks in a row
	alerting  bool
	alertedAt time.Time // last alert sent (for the cooldown)
	since     time.Time // first bad check of the current episode
	summary   string    // problems at the alert
	muted     bool      // a Suppressed notice was given since the last alert
}

// State reports whether subject is alerting and what it alerted about.
func (p *Policy) State(subject string) (alerting bool, summary string) {
	if t := p.subjects[subject]; t != nil {
		return t.alerting, t.summary
	}
	return false, ""
}

// Observe records one check of subject at now: problems empty is a good
// check. label names the subject in messages ("agent lead
// (clem-p-agent-lead.service)"). It returns at most one notice.
func (p *Policy) Observe(now time.Time, subject, label string, problems []check.Problem) *Notice {
	t := p.subjects[subject]
	if t == nil {
		t = &track{}
		p.subjects[subject] = t
	}
	if len(problems) == 0 {
		t.good++
		if t.good < p.Failures {
			return nil
		}
		t.since = time.Time{} // healthy long enough: the next bad check starts a new episode
		if !t.alerting {
			return nil
		}
		t.alerting = false
		return &Notice{Kind: Recovery, Subject: subject, Request: coordapi.AlertRequest{
			Severity: coordapi.Resolved,
			Subject:  subject,
			Body: fmt.Sprintf("%s is healthy again: %d good checks in a row. It had alerted at %s: %s",
				label, t.good, stamp(t.alertedAt), t.summary),
		}}
	}

	t.good = 0
	if t.since.IsZero() {
		t.since = now
	}
	t.bad = append(t.bad, now)
	if len(t.bad) > p.Failures {
		t.bad = t.bad[len(t.bad)-p.Failures:]
	}
	if t.alerting || len(t.bad) < p.Failures || now.Sub(t.bad[0]) > p.Window {
		return nil
	}
	if !t.alertedAt.IsZero() && now.Sub(t.alertedAt) < p.Cooldown {
		if t.muted {
			return nil
		}
		t.muted = true
		return &Notice{Kind: Suppressed, Subject: subject, Until: t.alertedAt.Add(p.Cooldown)}
	}
	t.alerting, t.alertedAt, t.summary, t.muted = true, now, check.Summary(problems), false
	return &Notice{Kind: Alert, Subject: subject, Request: coordapi.AlertRequest{
		Severity: check.Worst(problems),
		Subject:  subject,
		Body: fmt.Sprintf("%s: %s. %d bad checks in %v, the first of this episode at %s.",
			label, t.summary, p.Failures, now.Sub(t.bad[0]).Truncate(time.Second), stamp(t.since)),
	}}
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }
