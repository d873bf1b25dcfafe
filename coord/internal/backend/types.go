package backend

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
	// Person: a human on the backend (or the local CLI). Whether their words
	// count as instructions is the core's decision (coord.toml operators),
	// never the backend's.
	Person AuthorKind = "person"
	// AgentAuthor: one of the team's agents, through coord.
	AgentAuthor AuthorKind = "agent"
	// System: coord itself (lease expiry, watchdog alerts).
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
	// U..., Discord snowflake), empty on the local board. Operators may be
	// listed by id too, which survives renames.
	ID string `json:"id,omitempty"`
}

// NewTask is what Create takes.
type NewTask struct {
	Title  string
	Body   string
	To     string // agent key, or "" for any agent
	Author Author
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
	Comments []Comment `json:"comments,omitempty"` // Get only
}

// Filter selects tasks for List. Zero fields match everything.
type Filter struct {
	State  State  // only tasks in this state (after lease expiry)
	To     string // only tasks addressed to this agent or to any
	Holder string // only tasks held by this agent
}

// Match reports whether t passes f. Backends that cannot filter on the
// server use it.
func (f Filter) Match(t Task) bool {
	if f.State != "" && t.State != f.State {
		return false
	}
	if f.To != "" && t.To != "" && t.To != f.To {
		return false
	}
	if f.Holder != "" && t.Holder != f.Holder {
		return false
	}
	return true
}

// NewComment is what Comment takes.
type NewComment struct {
	Author Author
	Body   string
}

// Comment is a remark on a task.
type Comment struct {
	ID      string    `json:"id"`
	TaskID  string    `json:"task_id"`
	Author  Author    `json:"author"`
	Body    string    `json:"body"`
	Created time.Time `json:"created"`
}

// NewMessage is what Post takes.
type NewMessage struct {
	Author Author
	To     string // agent key, or "" for everyone
	Body   string
}

// Message is a note not attached to a task.
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

// NewAlert is what Alert takes.
type NewAlert struct {
	Author   Author
	Severity Severity
	Subject  string // what it is about: an agent key, a unit
	Body     string
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

// EventKind says what an Event carries.
type EventKind string

// Event kinds.
const (
	TaskCreated   EventKind = "task_created"   // Task set
	TaskChanged   EventKind = "task_changed"   // Task set: claimed, state changed, lease expired
	CommentAdded  EventKind = "comment_added"  // Comment set (Task has ID, Title, To, Holder)
	MessagePosted EventKind = "message_posted" // Message set
)

// Event is one entry of the change feed. Task is a snapshot at the time of
// the event (no comments).
type Event struct {
	Kind    EventKind `json:"kind"`
	Time    time.Time `json:"time"`
	Task    *Task     `json:"task,omitempty"`
	Comment *Comment  `json:"comment,omitempty"`
	Message *Message  `json:"message,omitempty"`
}
