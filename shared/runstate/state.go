package runstate

import (
	"time"
)

// Phase is what the runner is doing.
type Phase string

// The phases, in the order a runner goes through them.
const (
	Starting Phase = "starting" // up, its first iteration not begun
	Running  Phase = "running"  // an iteration runs (Current is set)
	Sleeping Phase = "sleeping" // waiting for the next iteration (NextAt)
	Backoff  Phase = "backoff"  // waiting longer after failures (NextAt)
	Stopping Phase = "stopping" // shutting down
)

// Phases lists every phase.
var Phases = []Phase{Starting, Running, Sleeping, Backoff, Stopping}

// State is state.json: one agent's runner, now.
type State struct {
	Agent     string    `json:"agent"`
	PID       int       `json:"pid"`
	Updated   time.Time `json:"updated"`
	Phase     Phase     `json:"phase"`
	Iteration int       `json:"iteration"` // the number of the newest iteration begun; 0 before the first
	// Current is the running iteration, while Phase is Running.
	Current *Current `json:"current,omitempty"`
	// NextAt is when the next iteration is due, while sleeping or in backoff.
	NextAt              time.Time  `json:"next_at,omitzero"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	Stalls              int        `json:"stalls"` // total, over the runner's life on this state directory
	Today               Today      `json:"today"`
	Last                *Iteration `json:"last,omitempty"` // the newest finished iteration
}

// Current is an iteration in progress.
type Current struct {
	Iteration int       `json:"iteration"`
	Started   time.Time `json:"started"`
	Events    int       `json:"events"`              // stream events so far
	LastEvent time.Time `json:"last_event,omitzero"` // when the newest came
	PID       int       `json:"pid"`                 // the CLI's pid, also its process group; 0 until it started
}

// Today sums the iterations that ended on Date (host time, 2006-01-02).
type Today struct {
	Date       string  `json:"date"`
	Iterations int     `json:"iterations"`
	CostUSD    float64 `json:"cost_usd"`
}

// DateLayout is Today.Date's format.
const DateLayout = "2006-01-02"

// Iteration is one finished iteration: State.Last and a line of history.jsonl.
type Iteration struct {
	Iteration int       `json:"iteration"`
	Started   time.Time `json:"started"`
	Ended     time.Time `json:"ended"`
	ExitCode  int       `json:"exit_code"` // -1 when killed or never started
	IsError   bool      `json:"is_error"`  // the failure verdict (Failed), not only the CLI's own flag
	// APIErrorStatus is the model API's HTTP status when the CLI reported one (401: credentials).
	APIErrorStatus *int    `json:"api_error_status,omitempty"`
	Turns          int     `json:"turns"`
	CostUSD        float64 `json:"cost_usd"`
	InputTokens    int64   `json:"input_tokens"`
	OutputTokens   int64   `json:"output_tokens"`
	SessionID      string  `json:"session_id,omitempty"`
	Events         int     `json:"events"`
	Stalled        bool    `json:"stalled"`   // killed after stall_timeout without an event
	TimedOut       bool    `json:"timed_out"` // killed at max_iteration
	Error          string  `json:"error,omitempty"`
	Result         string  `json:"result,omitempty"` // the first MaxResult bytes of the CLI's result text
}

// Limits on the text an Iteration carries.
const (
	MaxResult = 500
	MaxError  = 300
)

// Failed reports whether it counts as a failed iteration.
func (it *Iteration) Failed() bool {
	return it.IsError || it.Stalled || it.TimedOut || it.ExitCode != 0
}

// Outcome is one word for how it ended: ok, error, stalled, timeout.
func (it *Iteration) Outcome() string {
	switch {
	case it.Stalled:
		return "stalled"
	case it.TimedOut:
		return "timeout"
	case it.Failed():
		return "error"
	}
	return "ok"
}

// Duration is how long it ran.
func (it *Iteration) Duration() time.Duration { return it.Ended.Sub(it.Started) }

// AddToday counts a finished iteration into s.Today, starting a new day when
// the iteration ended on another date than Today.Date (in loc).
func (s *State) AddToday(it *Iteration, loc *time.Location) {
	day := it.Ended.In(loc).Format(DateLayout)
	if s.Today.Date != day {
		s.Today = Today{Date: day}
	}
	s.Today.Iterations++
	s.Today.CostUSD += it.CostUSD
}

// CostToday is today's cost as of now: 0 when Today is another day.
func (s *State) CostToday(now time.Time, loc *time.Location) float64 {
	if s.Today.Date != now.In(loc).Format(DateLayout) {
		return 0
	}
	return s.Today.CostUSD
}

// Clip cuts s to at most n bytes at a UTF-8 boundary.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
