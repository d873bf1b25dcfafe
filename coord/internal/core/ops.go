package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/clemhq/clem/coord/internal/backend"
	"github.com/clemhq/clem/shared/coordapi"
)

// ErrForbidden: the caller's role may not do this.
var ErrForbidden = errors.New("not allowed for this caller")

// AgentTasks returns what agent may work on: todo tasks addressed to it
// or to anyone, then the tasks it holds. state narrows it to one state.
func (c *Core) AgentTasks(ctx context.Context, agent string, state backend.State) ([]backend.Task, error) {
	var out []backend.Task
	if state == "" || state == backend.Todo {
		todo, err := c.be.List(ctx, backend.Filter{State: backend.Todo, To: agent})
		if err != nil {
			return nil, err
		}
		out = append(out, todo...)
	}
	if state != backend.Todo {
		held, err := c.be.List(ctx, backend.Filter{Holder: agent})
		if err != nil {
			return nil, err
		}
		for _, t := range held {
			if state == "" || t.State == state {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// Claim makes agent the holder of task id, with the configured lease.
func (c *Core) Claim(ctx context.Context, agent, id string) (backend.Task, error) {
	t, err := c.be.Claim(ctx, id, agent, c.Config().LeaseTTL)
	if err == nil {
		c.notify()
	}
	return t, err
}

// Update moves agent's task id to state with note. A backend that is down
// gets the report later (queued true).
func (c *Core) Update(ctx context.Context, agent, id string, to backend.State, note string) (queued bool, err error) {
	if to == backend.Todo || to == "" {
		return false, fmt.Errorf("update task %s to %q: %w", id, to, backend.ErrTransition)
	}
	if err := c.charge(agent, len(note)); err != nil {
		return false, err
	}
	return c.deliver(ctx, op{Kind: "update", TaskID: id, Agent: agent, State: to, Body: note,
		Author: backend.Author{Kind: backend.AgentAuthor, Name: agent}})
}

// Comment adds a comment by author to task id. An agent may comment on
// any task it can see; operators on any task. An agent's comments, posts
// and updates count against its [limits] (ErrQuota).
func (c *Core) Comment(ctx context.Context, author backend.Author, id, body string) (queued bool, err error) {
	if _, err := c.be.Get(ctx, id); err != nil {
		if _, temp := backend.IsTemporary(err); !temp {
			return false, err
		}
	}
	if err := c.chargeAuthor(author, len(body)); err != nil {
		return false, err
	}
	return c.deliver(ctx, op{Kind: "comment", TaskID: id, Author: author, Body: body})
}

// Post sends a message from author to agent to, or to everyone.
func (c *Core) Post(ctx context.Context, author backend.Author, to, body string) (queued bool, err error) {
	if to != "" && c.Config().ByKey[to] == nil {
		return false, fmt.Errorf("message to %q: no such agent", to)
	}
	if err := c.chargeAuthor(author, len(body)); err != nil {
		return false, err
	}
	return c.deliver(ctx, op{Kind: "post", Author: author, To: to, Body: body})
}

// Alert raises an alert from author.
func (c *Core) Alert(ctx context.Context, author backend.Author, a coordapi.AlertRequest) (queued bool, err error) {
	if a.ID == "" {
		return c.deliver(ctx, op{Kind: "alert", Author: author, Severity: a.Severity, Subject: a.Subject, Body: a.Body})
	}
	c.alertMu.Lock()
	defer c.alertMu.Unlock()
	key := []byte(author.ID + "/" + a.ID)
	if c.alertTaken(key) {
		c.log.Info("alert already taken; not sent again", "id", a.ID, "subject", a.Subject)
		return false, nil
	}
	queued, err = c.deliver(ctx, op{Kind: "alert", Author: author, Severity: a.Severity, Subject: a.Subject, Body: a.Body})
	if err == nil {
		c.takeAlert(key)
	}
	return queued, err
}

// AddTask creates a task from an operator. It is not queued: the operator
// is there to see an error and needs the new task's id.
func (c *Core) AddTask(ctx context.Context, author backend.Author, r coordapi.AddTaskRequest) (backend.Task, error) {
	if r.To != "" && c.Config().ByKey[r.To] == nil {
		return backend.Task{}, fmt.Errorf("task for %q: no such agent in %s", r.To, c.Config().Source)
	}
	t, err := c.be.Create(ctx, backend.NewTask{Title: r.Title, Body: r.Body, To: r.To, Author: author})
	if err == nil {
		c.notify()
	}
	return t, err
}

// Heartbeat renews every lease agent holds: its runner is alive. It
// returns the ids renewed.
func (c *Core) Heartbeat(ctx context.Context, agent string) ([]string, error) {
	held, err := c.be.List(ctx, backend.Filter{Holder: agent})
	if err != nil {
		return nil, err
	}
	renewed := []string{}
	var errs []error
	for _, t := range held {
		if err := c.be.Renew(ctx, t.ID, agent, c.Config().LeaseTTL); err != nil {
			errs = append(errs, fmt.Errorf("renew task %s: %w", t.ID, err))
			continue
		}
		renewed = append(renewed, t.ID)
	}
	return renewed, errors.Join(errs...)
}

// Alerts lists recent alerts when the backend keeps them (the local board).
func (c *Core) Alerts(limit int) ([]backend.Alert, error) {
	if a, ok := c.be.(interface {
		Alerts(int) ([]backend.Alert, error)
	}); ok {
		return a.Alerts(limit)
	}
	return nil, fmt.Errorf("the %s backend shows alerts in its own alerts channel: %w", c.be.Kind(), ErrForbidden)
}
