// Package policy decides when the watchdog alerts. Each round gives every
// subject (an agent, a daemon) its problems; the policy keeps one alert
// state per subject and cause (check.Problem.Cause), so distinct causes get
// distinct alerts and one cause's cooldown never swallows another's. A
// cause alerts once it had `failures` bad checks within `window` (at the
// first bad check when the problem says Now: a failed unit will not fix
// itself), at most once per `cooldown`, and sends one recovery message once
// it had `failures` good checks in a row after an alert. Events (a changed
// egress table) alert every time they are seen and never recover. Time
// comes in as arguments, so tests drive it with a fake clock. Snapshot and
// Restore carry the state across the watchdog's own restart. Only the
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
type track = Track

// Track is the alert state of one subject and cause. It is exported so
// that the watchdog can keep it across its own restart (Snapshot,
// Restore): an alert sent before a restart is not sent again while the
// subject stays bad, and its recovery still comes.
type Track struct {
	Bad       []time.Time `json:"bad,omitempty"`       // the latest Failures bad checks, oldest first
	Good      int         `json:"good,omitempty"`      // good checks in a row, at most Failures
	Alerting  bool        `json:"alerting,omitempty"`  // an alert was sent and no recovery yet
	AlertedAt time.Time   `json:"alerted_at,omitzero"` // last alert sent (for the cooldown)
	Since     time.Time   `json:"since,omitzero"`      // first bad check of the current episode
	Summary   string      `json:"summary,omitempty"`   // problems at the alert
	Muted     bool        `json:"muted,omitempty"`     // a Suppressed notice was given since the last alert
}

// Snapshot copies every subject's alert state, by subject and cause.
func (p *Policy) Snapshot() map[string]map[string]Track {
	out := make(map[string]map[string]Track, len(p.subjects))
	for s, causes := range p.subjects {
		if len(causes) == 0 {
			continue
		}
		m := make(map[string]Track, len(causes))
		for c, t := range causes {
			ct := *t
			ct.Bad = append([]time.Time(nil), t.Bad...)
			m[c] = ct
		}
		out[s] = m
	}
	return out
}

// Restore replaces every subject's alert state with a snapshot (taken by
// Snapshot, perhaps by an earlier process). The caller drops what its
// config no longer watches first.
func (p *Policy) Restore(snap map[string]map[string]Track) {
	p.subjects = make(map[string]map[string]*track, len(snap))
	for s, causes := range snap {
		m := make(map[string]*track, len(causes))
		for c, t := range causes {
			ct := t
			ct.Bad = append([]time.Time(nil), t.Bad...)
			m[c] = &ct
		}
		p.subjects[s] = m
	}
}

// State reports whether subject is alerting for some cause and what about
// (the summaries of its alerting causes, in cause order).
func (p *Policy) State(subject string) (alerting bool, summary string) {
	var sums []string
	for _, c := range sortedCauses(p.subjects[subject]) {
		if t := p.subjects[subject][c]; t.Alerting {
			sums = append(sums, t.Summary)
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
	if t.Good < p.Failures {
		// Counting on past Failures would change the state every round
		// of a healthy subject, and with it the saved file.
		t.Good++
	}
	if t.Good < p.Failures {
		return nil
	}
	t.Since = time.Time{} // healthy long enough: the next bad check starts a new episode
	if !t.Alerting {
		return nil
	}
	t.Alerting = false
	return &Notice{Kind: Recovery, Subject: subject, Cause: cause, Request: coordapi.AlertRequest{
		Severity: coordapi.Resolved,
		Subject:  subject,
		Body: fmt.Sprintf("%s recovered from %s: %d good checks in a row. It had alerted at %s: %s",
			label, check.CauseTitle(cause), t.Good, stamp(t.AlertedAt), t.Summary),
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
	t.Good = 0
	if t.Since.IsZero() {
		t.Since = now
	}
	t.Bad = append(t.Bad, now)
	if len(t.Bad) > p.Failures {
		t.Bad = t.Bad[len(t.Bad)-p.Failures:]
	}
	if t.Alerting || len(t.Bad) < needed {
		return nil
	}
	first := t.Bad[len(t.Bad)-needed]
	if now.Sub(first) > p.Window {
		return nil
	}
	if !t.AlertedAt.IsZero() && now.Sub(t.AlertedAt) < p.Cooldown {
		if t.Muted {
			return nil
		}
		t.Muted = true
		return &Notice{Kind: Suppressed, Subject: subject, Cause: cause, Until: t.AlertedAt.Add(p.Cooldown)}
	}
	t.Alerting, t.AlertedAt, t.Summary, t.Muted = true, now, summary, false
	body := fmt.Sprintf("%s: %s. %d bad checks in %v, the first of this episode at %s.",
		label, summary, needed, now.Sub(first).Truncate(time.Second), stamp(t.Since))
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
