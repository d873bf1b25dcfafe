// Package policy decides when the watchdog alerts. Each round gives every
// subject (an agent, a daemon) its problems; the policy keeps one alert
// state per subject and cause (check.Problem.Cause), so distinct causes get
// distinct alerts and one cause's cooldown never swallows another's. A
// cause alerts once it had `failures` bad checks within `window` (at the
// first bad check when the problem says Now: a failed unit will not fix
// itself), at most once per `cooldown`, and sends one recovery message once
// it had `failures` good checks in a row after an alert. Events (a changed
// egress table) alert every time they are seen and never recover. Time
// comes in as arguments, so tests drive it with a fake clock. Only the
// watchdog imports it.
package policy

import (
	"fmt"
	"sort"
	"strings"
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

// Notice is the outcome of a round for one subject and cause.
type Notice struct {
	Kind    Kind
	Subject string
	Cause   string
	Request coordapi.AlertRequest // Alert and Recovery
	Until   time.Time             // Suppressed: when the cooldown ends
}

// Policy holds every subject's alert state, by cause.
type Policy struct {
	Failures int
	Window   time.Duration
	Cooldown time.Duration
	subjects map[string]map[string]*track // subject -> cause -> track
}

// New returns a policy: failures bad checks within window alert, at most
// once per cooldown for each subject and cause.
func New(failures int, window, cooldown time.Duration) *Policy {
	return &Policy{Failures: failures, Window: window, Cooldown: cooldown, subjects: map[string]map[string]*track{}}
}

// track is the alert state of one subject and cause.
type track struct {
	bad       []time.Time // the latest Failures bad checks, oldest first
	good      int         // good checks in a row
	alerting  bool
	alertedAt time.Time // last alert sent (for the cooldown)
	since     time.Time // first bad check of the current episode
	summary   string    // problems at the alert
	muted     bool      // a Suppressed notice was given since the last alert
}

// State reports whether subject is alerting for some cause and what about
// (the summaries of its alerting causes, in cause order).
func (p *Policy) State(subject string) (alerting bool, summary string) {
	var sums []string
	for _, c := range sortedCauses(p.subjects[subject]) {
		if t := p.subjects[subject][c]; t.alerting {
			sums = append(sums, t.summary)
		}
	}
	return len(sums) > 0, strings.Join(sums, "; ")
}

// Forget drops subject's alert state: it is no longer watched (a reload
// removed it), so no recovery can ever come for it.
func (p *Policy) Forget(subject string) { delete(p.subjects, subject) }

// Observe records one check of subject at now: problems empty is a good
// check of every cause. label names the subject in messages ("agent lead
// (clem-p-agent-lead.service)"). It returns the notices of this round, at
// most one per cause: first recoveries (in cause order), then alerts and
// suppressions in the order of the problems.
func (p *Policy) Observe(now time.Time, subject, label string, problems []check.Problem) []Notice {
	causes := p.subjects[subject]
	if causes == nil {
		causes = map[string]*track{}
		p.subjects[subject] = causes
	}
	var order []string
	groups := map[string][]check.Problem{}
	for _, pr := range problems {
		c := pr.Cause()
		if _, ok := groups[c]; !ok {
			order = append(order, c)
		}
		groups[c] = append(groups[c], pr)
	}
	var out []Notice
	for _, c := range sortedCauses(causes) {
		if _, bad := groups[c]; !bad {
			if n := p.good(causes[c], label, subject, c); n != nil {
				out = append(out, *n)
			}
		}
	}
	for _, c := range order {
		t := causes[c]
		if t == nil {
			t = &track{}
			causes[c] = t
		}
		if n := p.bad(t, now, label, subject, c, groups[c]); n != nil {
			out = append(out, *n)
		}
	}
	return out
}

// good records a good check of one cause.
func (p *Policy) good(t *track, label, subject, cause string) *Notice {
	t.good++
	if t.good < p.Failures {
		return nil
	}
	t.since = time.Time{} // healthy long enough: the next bad check starts a new episode
	if !t.alerting {
		return nil
	}
	t.alerting = false
	return &Notice{Kind: Recovery, Subject: subject, Cause: cause, Request: coordapi.AlertRequest{
		Severity: coordapi.Resolved,
		Subject:  subject,
		Body: fmt.Sprintf("%s recovered from %s: %d good checks in a row. It had alerted at %s: %s",
			label, check.CauseTitle(cause), t.good, stamp(t.alertedAt), t.summary),
	}}
}

// bad records a bad check of one cause with its problems.
func (p *Policy) bad(t *track, now time.Time, label, subject, cause string, ps []check.Problem) *Notice {
	summary := check.Summary(ps)
	needed := p.Failures
	event := false
	for _, pr := range ps {
		if pr.Now {
			needed = 1
		}
		event = event || pr.Event
	}
	if event {
		// Each event is new (the check reports it once); it has no
		// episode to end, so neither alerting state nor cooldown.
		return &Notice{Kind: Alert, Subject: subject, Cause: cause, Request: coordapi.AlertRequest{
			Severity: check.Worst(ps),
			Subject:  subject,
			Body:     fmt.Sprintf("%s: %s. Seen at %s.", label, summary, stamp(now)),
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
	if t.alerting || len(t.bad) < needed {
		return nil
	}
	first := t.bad[len(t.bad)-needed]
	if now.Sub(first) > p.Window {
		return nil
	}
	if !t.alertedAt.IsZero() && now.Sub(t.alertedAt) < p.Cooldown {
		if t.muted {
			return nil
		}
		t.muted = true
		return &Notice{Kind: Suppressed, Subject: subject, Cause: cause, Until: t.alertedAt.Add(p.Cooldown)}
	}
	t.alerting, t.alertedAt, t.summary, t.muted = true, now, summary, false
	body := fmt.Sprintf("%s: %s. %d bad checks in %v, the first of this episode at %s.",
		label, summary, needed, now.Sub(first).Truncate(time.Second), stamp(t.since))
	if needed == 1 {
		body = fmt.Sprintf("%s: %s. Seen at %s.", label, summary, stamp(now))
	}
	return &Notice{Kind: Alert, Subject: subject, Cause: cause, Request: coordapi.AlertRequest{
		Severity: check.Worst(ps),
		Subject:  subject,
		Body:     body,
	}}
}

func sortedCauses(m map[string]*track) []string {
	cs := make([]string, 0, len(m))
	for c := range m {
		cs = append(cs, c)
	}
	sort.Strings(cs)
	return cs
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }
