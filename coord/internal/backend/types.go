package backend

import (
	"time"

	"github.com/clemhq/clem/shared/coordapi"
)

// The data types are the unix API's (shared/coordapi), so what a backend
// stores is what runner, watchdog and `clem task` read.
type (
	State      = coordapi.State
	AuthorKind = coordapi.AuthorKind
	Author     = coordapi.Author
	Task       = coordapi.Task
	Comment    = coordapi.Comment
	Message    = coordapi.Message
	Severity   = coordapi.Severity
	Alert      = coordapi.Alert
)

// The states: todo -> claimed -> in_progress -> done | blocked.
const (
	Todo       = coordapi.Todo
	Claimed    = coordapi.Claimed
	InProgress = coordapi.InProgress
	Done       = coordapi.Done
	Blocked    = coordapi.Blocked
)

// Author kinds. Whether a Person's words count as instructions is the
// core's decision (coord.toml operators), never the backend's.
const (
	Person      = coordapi.Person
	AgentAuthor = coordapi.Agent
	System      = coordapi.System
)

// Severities of alerts.
const (
	Warning  = coordapi.Warning
	Critical = coordapi.Critical
	Resolved = coordapi.Resolved
)

// NewTask is what Create takes.
type NewTask struct {
	Title  string
	Body   string
	To     string // agent key, or "" for any agent
	Author Author
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

// NewMessage is what Post takes.
type NewMessage struct {
	Author Author
	To     string // agent key, or "" for everyone
	Body   string
}

// NewAlert is what Alert takes.
type NewAlert struct {
	Author   Author
	Severity Severity
	Subject  string // what it is about: an agent key, a unit
	Body     string
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
	// Cursor, set by Changes, reads on from just after this event: a
	// reader that used only part of a page acknowledges exactly what it
	// used. It is not stored with the event.
	Cursor string `json:"-"`
}

// States lists every state in lifecycle order.
var States = coordapi.States

// ParseState accepts a state's name as written in States.
func ParseState(s string) (State, error) { return coordapi.ParseState(s) }
