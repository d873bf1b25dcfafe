package daemon

import (
	"strings"
	"testing"
	"time"

	"github.com/clemhq/clem/runner/internal/clock"
	"github.com/clemhq/clem/runner/internal/events"
	"github.com/clemhq/clem/runner/internal/supervise"
	"github.com/clemhq/clem/shared/runstate"
)

func TestVerdict(t *testing.T) {
	s401 := 401
	for _, tc := range []struct {
		name    string
		runtime string
		res     supervise.Result
		sum     events.Summary
		failed  bool
		outcome string
		err     string
	}{
		{"ok", "claude-code", supervise.Result{ExitCode: 0, Events: 3}, events.Summary{Final: true, Turns: 2}, false, "ok", ""},
		{"401 with subtype success", "claude-code", supervise.Result{ExitCode: 1},
			events.Summary{Final: true, IsError: true, APIErrorStatus: &s401, Error: "Invalid API key"}, true, "error", "model API answered HTTP 401: Invalid API key"},
		{"is_error with exit 0", "claude-code", supervise.Result{}, events.Summary{Final: true, IsError: true, Error: "error_max_turns"}, true, "error", "error_max_turns"},
		{"exit code alone", "claude-code", supervise.Result{ExitCode: 2}, events.Summary{Final: true}, true, "error", "exit status 2"},
		{"no result line", "claude-code", supervise.Result{}, events.Summary{}, true, "error", "the stream ended without a result"},
		{"command needs no result line", "command", supervise.Result{}, events.Summary{Result: "fine"}, false, "ok", ""},
		{"stalled", "claude-code", supervise.Result{ExitCode: -1, Stalled: true, Error: "no event for 20m0s: stalled, process group killed"}, events.Summary{}, true, "stalled", "stalled"},
		{"timed out", "claude-code", supervise.Result{ExitCode: -1, TimedOut: true, Error: "still running after 2h0m0s"}, events.Summary{}, true, "timeout", "still running"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			it := &runstate.Iteration{}
			verdict(tc.runtime, tc.res, tc.sum, it)
			if it.Failed() != tc.failed || it.Outcome() != tc.outcome || !strings.Contains(it.Error, tc.err) || (tc.err == "" && it.Error != "") {
				t.Errorf("verdict = failed %v, outcome %s, error %q; want %v, %s, %q", it.Failed(), it.Outcome(), it.Error, tc.failed, tc.outcome, tc.err)
			}
		})
	}
}

func TestStatusLine(t *testing.T) {
	loc := time.UTC
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, loc)
	today := runstate.Today{Date: "2026-03-04", Iterations: 11, CostUSD: 0.42}
	for _, tc := range []struct {
		st   runstate.State
		want string
	}{
		{runstate.State{Phase: runstate.Running, Today: today, Current: &runstate.Current{Iteration: 12, Started: now.Add(-3 * time.Minute), Events: 41}},
			"iteration 12 running 3m, 41 events, $0.42 today"},
		{runstate.State{Phase: runstate.Sleeping, Today: today, NextAt: now.Add(10 * time.Minute),
			Last: &runstate.Iteration{Iteration: 12, Turns: 5, CostUSD: 0.1}}, "iteration 12 ok (5 turns, $0.10), next at 12:10:00, $0.42 today"},
		{runstate.State{Phase: runstate.Backoff, ConsecutiveFailures: 3, Today: today, NextAt: now.Add(time.Hour),
			Last: &runstate.Iteration{Iteration: 12, IsError: true, Error: "model API answered HTTP 401"}},
			"iteration 12 failed (3 in a row: model API answered HTTP 401), retry at 13:00:00, $0.42 today"},
		{runstate.State{Phase: runstate.Sleeping, NextAt: now, Today: runstate.Today{Date: "2026-03-03", CostUSD: 9}}, "first iteration at 12:00:00, $0.00 today"},
		{runstate.State{Phase: runstate.Starting}, "starting"},
	} {
		if got := StatusLine(&tc.st, now, loc); got != tc.want {
			t.Errorf("StatusLine = %q, want %q", got, tc.want)
		}
	}
}

// TestStatusLineWarning: a port block the runner could not protect leads
// every STATUS line, so `systemctl status` shows it.
func TestStatusLineWarning(t *testing.T) {
	for _, tc := range []struct{ warning, want string }{
		{"", "starting"},
		{"ports 3128-3159 NOT protected from the agent: this kernel has no Landlock",
			"WARNING: ports 3128-3159 NOT protected from the agent: this kernel has no Landlock | starting"},
	} {
		d := &Daemon{clock: clock.NewFake(time.Now()), warning: tc.warning, st: runstate.State{Phase: runstate.Starting}}
		if got := d.statusLine(); got != tc.want {
			t.Errorf("statusLine with warning %q = %q, want %q", tc.warning, got, tc.want)
		}
	}
}
