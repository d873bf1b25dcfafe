package backend

import (
	"context"
	"time"
)

// Backend is one place tasks live. Every method is safe for concurrent use.
//
// Agents are named by their key in clem.yaml (Task.To, Task.Holder, the agent
// arguments). The core has already checked who the caller is and what it may
// do; a backend enforces only what needs its own consistency: at most one
// holder per task, legal state transitions, and leases.
//
// Errors: return the sentinel errors below (wrapped with context) for the
// cases they name, so the core can answer the caller; wrap anything that may
// heal by itself (rate limit, outage, 5xx, timeout) with Temporary, so the
// core backs off and retries instead of failing the caller's report. Any
// other error is final.
type Backend interface {
	// Kind is the backend's name in coord.toml: local, github, slack, discord.
	Kind() string

	// Create adds a task in state todo and returns it with its ID and
	// Created set. t.To empty means any agent may take it.
	Create(ctx context.Context, t NewTask) (Task, error)

	// Get returns one task, with its comments in the order they were made.
	// A claimed or in-progress task whose lease has passed reads as todo
	// with no holder. Unknown id: ErrNotFound.
	Get(ctx context.Context, id string) (Task, error)

	// List returns the tasks matching f, oldest first, without comments.
	// The same lease rule as Get applies to every task, and to the filter.
	List(ctx context.Context, f Filter) ([]Task, error)

	// Claim atomically makes agent the holder of task id, moving it from
	// todo to claimed with a lease ending lease from now. Of any number of
	// racing claims exactly one wins; the others get ErrConflict. Claiming a
	// task held by someone else (lease not passed) is ErrConflict; a task
	// addressed to another agent is ErrNotYours; a task in done or blocked is
	// ErrTransition; claiming a task agent already holds renews the lease and
	// succeeds. Remote backends: claim, re-read, and on a lost race undo and
	// return ErrConflict.
	Claim(ctx context.Context, id, agent string, lease time.Duration) (Task, error)

	// Update moves task id, held by agent, to state to (see CanTransition),
	// records note as agent's comment when it is not empty, and renews the
	// lease when to is still a held state. A task agent does not hold:
	// ErrNotHolder. done and blocked release the task (no holder, no lease).
	Update(ctx context.Context, id, agent string, to State, note string, lease time.Duration) (Task, error)

	// Renew extends agent's lease on task id to lease from now.
	// ErrNotHolder if agent does not hold it (any more).
	Renew(ctx context.Context, id, agent string, lease time.Duration) error

	// Comment adds c to task id. Unknown id: ErrNotFound.
	Comment(ctx context.Context, id string, c NewComment) (Comment, error)

	// Post sends a message to one agent (m.To) or to everyone (m.To empty):
	// the tasks channel of a chat backend, a message list on the local board.
	Post(ctx context.Context, m NewMessage) (Message, error)

	// Alert sends an alert where people see it: the alerts channel, an
	// issue with the alert label, the local board's alert list.
	Alert(ctx context.Context, a NewAlert) (Alert, error)

	// Changes returns what happened after cursor, oldest first, and the
	// cursor to ask with next time; "" means from the beginning. A backend
	// may return fewer events than exist (a page); the core calls again
	// with the new cursor. The cursor is opaque to the core but must stay
	// valid across restarts of coord (the core persists it). Each event's
	// own Cursor reads on from just after that event, so the core can
	// consume part of a page.
	Changes(ctx context.Context, cursor string) ([]Event, string, error)

	// CursorAfter reports whether cursor a reads on from a later point
	// than b (both from Changes), so the core never moves an agent's
	// cursor back: a late acknowledgement of an older prompt must not
	// bring back what a newer read consumed.
	CursorAfter(a, b string) bool

	// Watch runs until ctx is done and calls changed whenever new events
	// may be in Changes because of something that did not go through this
	// Backend value (a person posting in Slack, an issue opened on GitHub):
	// a push connection (Discord gateway, Slack Socket Mode) or conditional
	// polling (GitHub ETags). Writes made through the Backend need no call;
	// the core wakes waiters for those itself. It returns ctx.Err() at the
	// end, or a final error; the core restarts it after Temporary ones.
	Watch(ctx context.Context, changed func()) error

	// Close releases the backend's resources.
	Close() error
}

// CanTransition reports whether Update may move a task from one state to
// another. claimed -> in_progress -> done | blocked; a holder may also finish
// or block straight from claimed, and go back from in_progress to claimed.
// todo is left only by Claim; done and blocked are final.
func CanTransition(from, to State) bool {
	switch from {
	case Claimed:
		return to == InProgress || to == Done || to == Blocked || to == Claimed
	case InProgress:
		return to == InProgress || to == Done || to == Blocked || to == Claimed
	}
	return false
}
