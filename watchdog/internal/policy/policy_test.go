package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/coordapi"
	"github.com/clemhq/clem/watchdog/internal/check"
)

var t0 = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)

// clock is a fake clock stepping one check interval at a time.
type clock struct{ now time.Time }

func (c *clock) tick(d time.Duration) time.Time { c.now = c.now.Add(d); return c.now }

var restarting = []check.Problem{{Kind: check.KindRestarting, Severity: coordapi.Warning, Text: "restarting (exit-code)"}}
var failed = []check.Problem{{Kind: check.KindFailed, Severity: coordapi.Critical, Text: "unit failed (exit-code)"}}

const label = "agent lead (clem-p-agent-lead.service)"

// run feeds one check per step (bad when the rune is 'x', good when '.'),
// interval apart, and returns the notices by step.
func run(p *Policy, c *clock, interval time.Duration, pattern string, problems []check.Problem) map[int]*Notice {
	out := map[int]*Notice{}
	for i, r := range pattern {
		var ps []check.Problem
		if r == 'x' {
			ps = problems
		}
		ns := p.Observe(c.tick(interval), "agent lead", label, ps)
		if len(ns) > 1 {
			panic(fmt.Sprintf("step %d: %d notices for one cause: %+v", i, len(ns), ns))
		}
		if len(ns) == 1 {
			out[i] = &ns[0]
		}
	}
	return out
}

func kinds(ns map[int]*Notice, n int) string {
	var b strings.Builder
	for i := range n {
		switch {
		case ns[i] == nil:
			b.WriteByte('-')
		case ns[i].Kind == Alert:
			b.WriteByte('A')
		case ns[i].Kind == Recovery:
			b.WriteByte('R')
		case ns[i].Kind == Suppressed:
			b.WriteByte('S')
		}
	}
	return b.String()
}

func TestPolicy(t *testing.T) {
	const iv = 15 * time.Second
	cases := []struct {
		name     string
		failures int
		window   time.Duration
		cooldown time.Duration
		pattern  string
		want     string // per step: - nothing, A alert, R recovery, S suppressed
	}{
		{"below the count", 3, 30 * time.Minute, time.Hour, "xx...", "-----"},
		{"N in a row alert exactly once", 3, 30 * time.Minute, time.Hour, "xxxxxxxx", "--A-----"},
		{"one recovery after N good", 3, 30 * time.Minute, time.Hour, "xxx......", "--A--R---"},
		{"one good check is not a recovery", 3, 30 * time.Minute, time.Hour, "xxx.x.x.x", "--A------"},
		{"flapping alerts once and stays alerting", 3, 30 * time.Minute, time.Hour, "x.x.x.x.x.x.", "----A-------"},
		{"bad checks spread wider than the window", 3, 40 * time.Second, time.Hour, "x.x.x.x.", "--------"},
		{"cooldown suppresses the next episode", 2, 30 * time.Minute, time.Hour, "xx..xx", "-A-RS-"},
		// the window still holds the first episode's bad checks: with no
		// cooldown the next bad check alerts at once
		{"no cooldown", 2, 30 * time.Minute, 0, "xx..xx..", "-A-RA--R"},
		{"suppressed once per cooldown", 2, 30 * time.Minute, time.Hour, "xx..xxxx", "-A-RS---"},
		{"failures 1", 1, time.Minute, 0, "x.x", "ARA"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			p := New(tt.failures, tt.window, tt.cooldown)
			got := kinds(run(p, &clock{now: t0}, iv, tt.pattern, restarting), len(tt.pattern))
			if got != tt.want {
				t.Errorf("pattern %s: notices %s, want %s", tt.pattern, got, tt.want)
			}
		})
	}
}

func TestCooldownEnds(t *testing.T) {
	p := New(2, 30*time.Minute, time.Hour)
	c := &clock{now: t0}
	got := kinds(run(p, c, 15*time.Second, "xx..", failed), 4)
	if got != "-A-R" {
		t.Fatalf("first episode: %s", got)
	}
	n := p.Observe(c.tick(15*time.Second), "agent lead", label, failed)
	if len(n) != 1 || n[0].Kind != Suppressed || !n[0].Until.Equal(t0.Add(30*time.Second+time.Hour)) {
		t.Fatalf("within the cooldown: %+v", n)
	}
	// Still failing when the cooldown is over: one alert, then quiet.
	// (the window no longer holds the suppressed check: two new ones)
	c.now = t0.Add(time.Hour + time.Minute)
	if n := p.Observe(c.now, "agent lead", label, failed); n != nil {
		t.Fatalf("first bad check after the cooldown: %+v", n)
	}
	if n := p.Observe(c.tick(15*time.Second), "agent lead", label, failed); len(n) != 1 || n[0].Kind != Alert {
		t.Fatalf("after the cooldown: %+v", n)
	}
	if n := p.Observe(c.tick(15*time.Second), "agent lead", label, failed); n != nil {
		t.Errorf("second check after the alert: %+v", n)
	}
}

func TestMessages(t *testing.T) {
	p := New(3, 30*time.Minute, time.Hour)
	c := &clock{now: t0}
	restarts := []check.Problem{
		{Kind: check.KindRestarting, Severity: coordapi.Warning, Text: "restarting (exit-code)"},
		{Kind: check.KindRestarted, Severity: coordapi.Warning, Text: "restarted 2 times since the last check"},
	}
	ns := run(p, c, 15*time.Second, "xxx...", restarts)
	a, r := ns[2], ns[5]
	if a == nil || a.Request.Severity != coordapi.Warning || a.Request.Subject != "agent lead" || a.Cause != check.CauseRestarting ||
		a.Request.Body != "agent lead (clem-p-agent-lead.service): restarting (exit-code); restarted 2 times since the last check. 3 bad checks in 30s, the first of this episode at 2026-01-02 10:00:15 UTC." {
		t.Errorf("alert = %+v", a)
	}
	if r == nil || r.Request.Severity != coordapi.Resolved ||
		r.Request.Body != "agent lead (clem-p-agent-lead.service) recovered from restarting repeatedly: 3 good checks in a row. It had alerted at 2026-01-02 10:00:45 UTC: restarting (exit-code); restarted 2 times since the last check" {
		t.Errorf("recovery = %+v", r)
	}
	if al, _ := p.State("agent lead"); al {
		t.Errorf("State after recovery: alerting")
	}
	// Subjects are independent.
	if n := p.Observe(c.tick(time.Second), "daemon pipelock", "daemon pipelock", failed); n != nil {
		t.Errorf("another subject's first bad check: %+v", n)
	}
}

// step is one round of TestCauses: the problems seen, and the notices
// wanted as "A:cause" / "R:cause" / "S:cause".
type step struct {
	problems []check.Problem
	want     string
}

func notices(ns []Notice) string {
	var out []string
	for _, n := range ns {
		out = append(out, map[Kind]string{Alert: "A", Recovery: "R", Suppressed: "S"}[n.Kind]+":"+n.Cause)
	}
	return strings.Join(out, ",")
}

func TestCauses(t *testing.T) {
	restart := check.Problem{Kind: check.KindRestarted, Severity: coordapi.Warning, Text: "restarted 1 time since the last check"}
	egress := check.Problem{Kind: check.KindEgress, Severity: coordapi.Critical, Text: "refuses to start: egress rules missing or changed"}
	unitFailed := check.Problem{Kind: check.KindFailed, Severity: coordapi.Critical, Text: "unit failed (start-limit-hit)", Now: true}
	tamper := check.Problem{Kind: check.KindEgressTampered, Severity: coordapi.Critical, Text: "egress table of project p was changed", Now: true, Event: true}
	health := check.Problem{Kind: check.KindHealth, Severity: coordapi.Critical, Text: "health check failed: HTTP 503"}
	ps := func(p ...check.Problem) []check.Problem { return p }
	cases := []struct {
		name  string
		steps []step
	}{
		{"a crash loop, then a failing egress check: two alerts, two recoveries (item 18)", []step{
			{ps(restart), ""}, {ps(restart), ""}, {ps(restart), "A:restarting"},
			// three rounds without restarts: restarting recovers in the
			// round the egress check alerts
			{ps(egress), ""}, {ps(egress), ""}, {ps(egress), "R:restarting,A:egress"},
			{nil, ""}, {nil, ""}, {nil, "R:egress"},
		}},
		{"a failed unit alerts at the first check, once, and recovers once", []step{
			{nil, ""}, {ps(unitFailed), "A:failed"}, {ps(unitFailed), ""}, {ps(unitFailed), ""},
			{nil, ""}, {nil, ""}, {nil, "R:failed"}, {nil, ""},
		}},
		{"the cooldown of one cause does not hold back another", []step{
			{ps(unitFailed), "A:failed"}, {nil, ""}, {nil, ""}, {nil, "R:failed"},
			{ps(unitFailed, health), "S:failed"}, {ps(health), ""}, {ps(health), "A:unhealthy"},
		}},
		{"each event alerts, with no recovery, whatever else is going on", []step{
			{ps(tamper), "A:egress-tampered"}, {nil, ""}, {ps(tamper, restart), "A:egress-tampered"},
			{ps(tamper, restart), "A:egress-tampered"}, {ps(restart), "A:restarting"}, {nil, ""}, {nil, ""}, {nil, "R:restarting"}, {nil, ""},
		}},
		{"two causes in one round alert together", []step{
			{ps(unitFailed, tamper), "A:failed,A:egress-tampered"}, {nil, ""}, {nil, ""}, {nil, "R:failed"},
		}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			p := New(3, 30*time.Minute, time.Hour)
			c := &clock{now: t0}
			for i, s := range tt.steps {
				if got := notices(p.Observe(c.tick(15*time.Second), "agent lead", label, s.problems)); got != s.want {
					t.Errorf("step %d (%s): notices %q, want %q", i, check.Summary(s.problems), got, s.want)
				}
			}
		})
	}
}

func TestImmediateMessage(t *testing.T) {
	p := New(3, 30*time.Minute, time.Hour)
	n := p.Observe(t0, "daemon pipelock", "daemon pipelock (clem-p-pipelock.service)",
		[]check.Problem{{Kind: check.KindFailed, Severity: coordapi.Critical, Text: "unit failed (start-limit-hit, main process exited with status 1)", Now: true}})
	if len(n) != 1 || n[0].Request.Severity != coordapi.Critical ||
		n[0].Request.Body != "daemon pipelock (clem-p-pipelock.service): unit failed (start-limit-hit, main process exited with status 1). Seen at 2026-01-02 10:00:00 UTC." {
		t.Errorf("Observe = %+v", n)
	}
	if al, sum := p.State("daemon pipelock"); !al || !strings.HasPrefix(sum, "unit failed") {
		t.Errorf("State = %v %q", al, sum)
	}
}
