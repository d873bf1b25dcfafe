package core

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/clemhq/clem/coord/internal/backend"
	"github.com/clemhq/clem/shared/coordapi"
)

// maxPages bounds how much of the feed one inbox read walks; what is left
// comes with the next read.
const maxPages = 32

// For reports whether event e belongs in agent's inbox: new tasks for it or
// for anyone, comments on tasks addressed to it or held by it, messages to
// it or to everyone; never what agent itself wrote.
func For(agent string, e backend.Event) bool {
	switch e.Kind {
	case backend.TaskCreated:
		return e.Task != nil && (e.Task.To == "" || e.Task.To == agent) && !wroteIt(agent, e.Task.Author)
	case backend.CommentAdded:
		return e.Comment != nil && e.Task != nil && !wroteIt(agent, e.Comment.Author) &&
			(e.Task.To == agent || e.Task.Holder == agent)
	case backend.MessagePosted:
		return e.Message != nil && (e.Message.To == "" || e.Message.To == agent) && !wroteIt(agent, e.Message.Author)
	}
	return false
}

func wroteIt(agent string, a backend.Author) bool {
	return a.Kind == backend.AgentAuthor && a.Name == agent
}

func (c *Core) cursor(agent string) string {
	var cur string
	c.db.View(func(tx *bolt.Tx) error {
		cur = string(tx.Bucket(bCursors).Get([]byte(agent)))
		return nil
	})
	return cur
}

// Inbox returns agent's unread items without consuming them, and the
// cursor that consumes them all (Ack); each item carries the cursor that
// consumes it and those before it. One answer is bounded (MaxInboxItems,
// MaxInboxBytes) so a flood of posts cannot make it too large to send or
// read: when the bound cuts the list, the cursor returned is the last
// item's, and the rest comes with the next read.
func (c *Core) Inbox(ctx context.Context, agent string) ([]coordapi.InboxItem, string, error) {
	items, cur, _, err := c.inbox(ctx, agent, coordapi.MaxInboxItems, coordapi.MaxInboxBytes)
	return items, cur, err
}

// inbox is Inbox with its bounds; cut reports that an item for agent was
// left for the next read.
func (c *Core) inbox(ctx context.Context, agent string, maxItems, maxBytes int) (items []coordapi.InboxItem, cur string, cut bool, err error) {
	items = []coordapi.InboxItem{}
	size := 0
	cur, err = c.scan(ctx, agent, func(e backend.Event) bool {
		it := c.item(e)
		if len(items) > 0 && (len(items) >= maxItems || size+len(it.Text) > maxBytes) {
			cut = true
			return false
		}
		it.Cursor = e.Cursor
		size += len(it.Text)
		items = append(items, it)
		return true
	})
	if err != nil {
		return nil, "", false, err
	}
	if cut {
		cur = items[len(items)-1].Cursor
	}
	return items, cur, cut, nil
}

// scan walks agent's unread feed from its cursor, at most maxPages pages,
// calling visit for each event that belongs in agent's inbox until visit
// returns false. It returns the cursor after the last page read.
func (c *Core) scan(ctx context.Context, agent string, visit func(backend.Event) bool) (string, error) {
	cur := c.cursor(agent)
	for range maxPages {
		evs, next, err := c.be.Changes(ctx, cur)
		if err != nil {
			return "", fmt.Errorf("inbox of %s: %w", agent, err)
		}
		for _, e := range evs {
			if For(agent, e) && !visit(e) {
				return cur, nil
			}
		}
		if len(evs) == 0 || next == cur {
			break
		}
		cur = next
	}
	return cur, nil
}

// Ack consumes agent's inbox through cursor.
// It never moves the cursor back: a runner acknowledges a prompt's items
// once the model answered it, and the agent may have read further over
// MCP meanwhile.
func (c *Core) Ack(agent, cursor string) error {
	return c.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bCursors)
		if cur := string(b.Get([]byte(agent))); cur != "" && !c.be.CursorAfter(cursor, cur) {
			return nil
		}
		return b.Put([]byte(agent), []byte(cursor))
	})
}

// ReadInbox returns agent's unread items, at most maxBytes of their text
// (the first item always), and consumes exactly those.
func (c *Core) ReadInbox(ctx context.Context, agent string, maxBytes int) (items []coordapi.InboxItem, more bool, err error) {
	items, cur, more, err := c.inbox(ctx, agent, coordapi.MaxInboxItems, maxBytes)
	if err != nil {
		return nil, false, err
	}
	return items, more, c.Ack(agent, cur)
}

// Wait blocks until agent's inbox is not empty (true) or ctx is done
// (false, nil).
func (c *Core) Wait(ctx context.Context, agent string) (bool, error) {
	for {
		ch := c.changedCh() // before reading, so a change in between is not missed
		unread, err := c.hasUnread(ctx, agent)
		if err != nil {
			if ctx.Err() != nil {
				return false, nil
			}
			return false, err
		}
		if unread {
			return true, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false, nil
		}
	}
}

// hasUnread reports whether agent's inbox holds an item. It stops at the
// first one and renders none: a runner that wakes reads its inbox right
// after, so the wait must not compute that inbox a first time.
func (c *Core) hasUnread(ctx context.Context, agent string) (bool, error) {
	found := false
	_, err := c.scan(ctx, agent, func(backend.Event) bool { found = true; return false })
	return found, err
}

func (c *Core) item(e backend.Event) coordapi.InboxItem {
	switch e.Kind {
	case backend.TaskCreated:
		return coordapi.InboxItem{Kind: "task", Task: e.Task, Trusted: c.Trusted(e.Task.Author), Text: c.RenderTask(*e.Task)}
	case backend.CommentAdded:
		return coordapi.InboxItem{Kind: "comment", Task: e.Task, Comment: e.Comment, Trusted: c.Trusted(e.Comment.Author),
			Text: fmt.Sprintf("Comment on task %s (%s):\n", e.Task.ID, e.Task.State) + c.Fence(e.Comment.Author, e.Comment.Body)}
	default:
		to := "everyone"
		if e.Message.To != "" {
			to = "you"
		}
		return coordapi.InboxItem{Kind: "message", Message: e.Message, Trusted: c.Trusted(e.Message.Author),
			Text: "Message to " + to + ":\n" + c.Fence(e.Message.Author, e.Message.Body)}
	}
}
