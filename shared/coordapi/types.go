package coordapi

import (
	"fmt"
	"time"
)

// State is where a task is in its life.
type State string

// The states: todo -> claimed -> in_progress -> done | blocked.
const (
	Todo       State = "todo"
	Claimed    State = "claimed"
	InProgress State = "in_progress"
	Done       State = "done"
	Blocked    State = "blocked"
)

// States lists every state in lifecycle order.
var States = []State{Todo, Claimed, InProgress, Done, Blocked}

// ParseState accepts a state's name as written in States.
func ParseState(s string) (State, error) {
	for _, st := range States {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("state %q: want one of todo, claimed, in_progress, done, blocked", s)
}

// Held reports whether a task in state s has a holder and a lease.
func (s State) Held() bool { return s == Claimed || s == InProgress }

// AuthorKind says what kind of party wrote something.
type AuthorKind string

// Author kinds.
const (
	// Person: a human on the backend (or an operator at the local CLI).
	// Whether their words count as instructions is coord's decision
	// (coord.toml operators), never the backend's.
	Person AuthorKind = "person"
	// Agent: one of the team's agents, through coord.
	Agent AuthorKind = "agent"
	// System: coord itself or the watchdog.
	System AuthorKind = "system"
)

// Author is who wrote a task, comment or message.
type Author struct {
	Kind AuthorKind `json:"kind"`
	// Name is the agent key for agents; for people the name operators are
	// listed by in coord.toml: the login (GitHub), the user name (Slack,
	// Discord), the OS user name (local).
	Name string `json:"name"`
	// ID is the backend's stable id of a person (GitHub user id, Slack
	// U..., Discord snowflake; "uid:N" on the local board).
	ID string `json:"id,omitempty"`
}

// Task is one unit of work.
type Task struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Body   string `json:"body,omitempty"`
	To     string `json:"to,omitempty"` // addressed agent; "" = any
	State  State  `json:"state"`
	Author Author `json:"author"`
	// Holder is the agent that claimed the task while State.Held().
	Holder string `json:"holder,omitempty"`
	// LeaseUntil is when the holder's claim lapses, while State.Held().
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	Created    time.Time `json:"created"`
	Updated    time.Time `json:"updated"`
	// URL links to the task on the backend, if it has pages.
	URL      string    `json:"url,omitempty"`
	Comments []Comment `json:"comments,omitempty"` // one task only, not lists
}

// Comment is a remark on a task.
type Comment struct {
	ID      string    `json:"id"`
	TaskID  string    `json:"task_id"`
	Author  Author    `json:"author"`
	Body    string    `json:"body"`
	Created time.Time `json:"created"`
}

// Message is a note not attached to a task, to one agent or to everyone.
type Message struct {
	ID      string    `json:"id"`
	Author  Author    `json:"author"`
	To      string    `json:"to,omitempty"`
	Body    string    `json:"body"`
	Created time.Time `json:"created"`
}

// Severity of an alert.
type Severity string

// Severities.
const (
	Warning  Severity = "warning"
	Critical Severity = "critical"
	Resolved Severity = "resolved"
)

// ParseSeverity accepts warning, critical or resolved; "" is warning.
func ParseSeverity(s string) (Severity, error) {
	switch Severity(s) {
	case "":
		return Warning, nil
	case Warning, Critical, Resolved:
		return Severity(s), nil
	}
	return "", fmt.Errorf("severity %q: want warning, critical or resolved", s)
}

// Alert is a notice for people, usually from the watchdog.
type Alert struct {
	ID       string    `json:"id"`
	Author   Author    `json:"author"`
	Severity Severity  `json:"severity"`
	Subject  string    `json:"subject"`
	Body     string    `json:"body"`
	Created  time.Time `json:"created"`
}
