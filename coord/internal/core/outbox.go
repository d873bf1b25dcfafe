package core

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/clemhq/clem/coord/internal/backend"
)

// op is a report queued for the backend: an agent's status update or
// comment, a message, an alert. Claims are never queued: a claim needs an
// answer now, and a late one could steal a task someone else took since.
type op struct {
	Kind     string           `json:"kind"` // update, comment, post, alert
	TaskID   string           `json:"task_id,omitempty"`
	Agent    string           `json:"agent,omitempty"`
	State    backend.State    `json:"state,omitempty"`
	Author   backend.Author   `json:"author"`
	To       string           `json:"to,omitempty"`
	Body     string           `json:"body,omitempty"`
	Severity backend.Severity `json:"severity,omitempty"`
	Subject  string           `json:"subject,omitempty"`
	Queued   time.Time        `json:"queued"`
	Attempts int              `json:"attempts"`
	NextAt   time.Time        `json:"next_at"`
	LastErr  string           `json:"last_err,omitempty"`
}

// apply sends o to the backend.
func (c *Core) apply(ctx context.Context, o op) error {
	var err error
	switch o.Kind {
	case "update":
		_, err = c.be.Update(ctx, o.TaskID, o.Agent, o.State, o.Body, c.Config().LeaseTTL)
	case "comment":
		_, err = c.be.Comment(ctx, o.TaskID, backend.NewComment{Author: o.Author, Body: o.Body})
	case "post":
		_, err = c.be.Post(ctx, backend.NewMessage{Author: o.Author, To: o.To, Body: o.Body})
	case "alert":
		_, err = c.be.Alert(ctx, backend.NewAlert{Author: o.Author, Severity: o.Severity, Subject: o.Subject, Body: o.Body})
	default:
		err = fmt.Errorf("unknown queued operation %q", o.Kind)
	}
	return err
}

// deliver sends o now if nothing is queued before it, and queues it when
// the backend fails temporarily (or something is already queued, to keep
// order). queued reports the latter; err is a final failure.
func (c *Core) deliver(ctx context.Context, o op) (queued bool, err error) {
	c.outboxMu.Lock()
	defer c.outboxMu.Unlock()
	if c.queueLen() == 0 {
		err := c.apply(ctx, o)
		if err == nil {
			c.notify()
			return false, nil
		}
		hint, temp := backend.IsTemporary(err)
		if !temp {
			return false, err
		}
		o.Attempts, o.LastErr = 1, err.Error()
		o.NextAt = c.now().Add(c.backoff(1, hint))
	} else {
		o.NextAt = c.now()
	}
	o.Queued = c.now()
	if err := c.enqueue(o); err != nil {
		if _, full := errors.AsType[*QuotaError](err); full {
			return false, err
		}
		return false, fmt.Errorf("queue %s for later: %w", o.Kind, err)
	}
	c.log.Warn("backend unavailable; report queued", "kind", o.Kind, "task", o.TaskID, "err", o.LastErr)
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return true, nil
}

// backoff is the wait before attempt n+1: retry.min doubling to retry.max,
// or the backend's own hint when it asks for longer.
func (c *Core) backoff(n int, hint time.Duration) time.Duration {
	cfg := c.Config()
	d := cfg.RetryMin
	for i := 1; i < n && d < cfg.RetryMax; i++ {
		d *= 2
	}
	return max(min(d, cfg.RetryMax), hint)
}

func seqKey(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func (c *Core) enqueue(o op) error {
	return c.db.Update(func(tx *bolt.Tx) error {
		if err := c.outboxRoom(tx, o); err != nil {
			return err
		}
		b := tx.Bucket(bOutbox)
		n, err := b.NextSequence()
		if err != nil {
			return err
		}
		data, err := json.Marshal(o)
		if err != nil {
			return err
		}
		return b.Put(seqKey(n), data)
	})
}

// queueLen is how many reports wait in the outbox (0 or at least 1).
func (c *Core) queueLen() int {
	n := 0
	c.db.View(func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket(bOutbox).Cursor().First(); k != nil {
			n = 1
		}
		return nil
	})
	return n
}

// Queued returns the reports waiting in the outbox, oldest first.
func (c *Core) Queued() []op {
	var out []op
	c.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bOutbox).ForEach(func(_, v []byte) error {
			var o op
			if json.Unmarshal(v, &o) == nil {
				out = append(out, o)
			}
			return nil
		})
	})
	return out
}

// head returns the oldest queued op and its key, or ok false.
func (c *Core) head() (k []byte, o op, ok bool) {
	c.db.View(func(tx *bolt.Tx) error {
		key, v := tx.Bucket(bOutbox).Cursor().First()
		if key == nil {
			return nil
		}
		k = append([]byte(nil), key...)
		if err := json.Unmarshal(v, &o); err != nil {
			o = op{Kind: "corrupt", LastErr: err.Error()}
		}
		ok = true
		return nil
	})
	return k, o, ok
}

// runOutbox delivers queued reports in order until ctx is done. The head
// of the queue blocks those after it, so a comment never overtakes the
// status change it explains.
func (c *Core) runOutbox(ctx context.Context) {
	for {
		wait := time.Hour
		c.outboxMu.Lock()
		k, o, ok := c.head()
		if ok {
			if d := o.NextAt.Sub(c.now()); d > 0 {
				wait = d
			} else {
				wait = c.tryHead(ctx, k, o)
			}
		}
		c.outboxMu.Unlock()
		if wait == 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		case <-time.After(wait):
		}
	}
}

// tryHead sends the head op; it returns how long to wait before the next
// attempt (0: go on at once).
func (c *Core) tryHead(ctx context.Context, k []byte, o op) time.Duration {
	err := c.apply(ctx, o)
	hint, temp := backend.IsTemporary(err)
	if err != nil && temp && ctx.Err() == nil {
		o.Attempts++
		o.LastErr = err.Error()
		d := c.backoff(o.Attempts, hint)
		o.NextAt = c.now().Add(d)
		c.db.Update(func(tx *bolt.Tx) error {
			data, _ := json.Marshal(o)
			return tx.Bucket(bOutbox).Put(k, data)
		})
		c.log.Warn("backend still unavailable", "kind", o.Kind, "task", o.TaskID, "attempts", o.Attempts, "err", err, "retry_in", d)
		return d
	}
	if ctx.Err() != nil {
		return time.Second
	}
	c.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bOutbox).Delete(k) })
	if err != nil {
		// A final error (the lease lapsed meanwhile, the task was
		// deleted): retrying cannot help, so the report is dropped loudly.
		c.log.Error("queued report rejected by the backend; dropped", "kind", o.Kind, "task", o.TaskID, "agent", o.Agent, "queued", o.Queued, "err", err)
		if errors.Is(err, context.Canceled) {
			return time.Second
		}
	} else {
		c.log.Info("queued report delivered", "kind", o.Kind, "task", o.TaskID, "attempts", o.Attempts+1, "after", c.now().Sub(o.Queued))
		c.notify()
	}
	return 0
}
