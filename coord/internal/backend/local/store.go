package local

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/clemhq/clem/coord/internal/backend"
	"github.com/clemhq/clem/coord/internal/boltdb"
)

// Kind is the backend's name in coord.toml.
const Kind = "local"

// FileName is the database's name in the state directory.
const FileName = "board.db"

// Buckets. Keys are 8-byte big-endian sequence numbers, so a cursor walks
// them in the order they were written.
var (
	bTasks    = []byte("tasks")    // task id -> Task (no comments)
	bComments = []byte("comments") // task id -> (comment seq -> Comment)
	bMessages = []byte("messages") // seq -> Message
	bAlerts   = []byte("alerts")   // seq -> Alert
	bEvents   = []byte("events")   // seq -> Event
)

// Board is the local backend.
type Board struct {
	db  *boltdb.DB
	now func() time.Time
}

var _ backend.Backend = (*Board)(nil)

// Open opens (creating if needed) the board at path. now is the clock
// leases are judged by (time.Now in the daemon). A board already open in
// another process makes Open fail after a second rather than wait.
func Open(path string, now func() time.Time) (*Board, error) {
	db, err := boltdb.Open(path, bTasks, bComments, bMessages, bAlerts, bEvents)
	if err != nil {
		return nil, fmt.Errorf("local board: %w", err)
	}
	return &Board{db: db, now: now}, nil
}

// Kind implements backend.Backend.
func (b *Board) Kind() string { return Kind }

// Close implements backend.Backend.
func (b *Board) Close() error { return b.db.Close() }

// Watch implements backend.Backend: every change to the local board goes
// through coord, so there is nothing outside to watch.
func (b *Board) Watch(ctx context.Context, _ func()) error {
	<-ctx.Done()
	return ctx.Err()
}

func key(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// taskKey turns a task id as the caller wrote it into its key; anything
// that is not a positive decimal number cannot name a task.
func taskKey(id string) ([]byte, bool) {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil || n == 0 {
		return nil, false
	}
	return key(n), true
}

func put(bk *bolt.Bucket, k []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return bk.Put(k, data)
}

// effective applies the lease rule: a held task past its lease is todo.
func (b *Board) effective(t backend.Task) backend.Task {
	if t.State.Held() && !b.now().Before(t.LeaseUntil) {
		t.State, t.Holder, t.LeaseUntil = backend.Todo, "", time.Time{}
	}
	return t
}

func (b *Board) loadTask(tx *bolt.Tx, id string) (backend.Task, []byte, error) {
	k, ok := taskKey(id)
	if !ok {
		return backend.Task{}, nil, fmt.Errorf("task %q: %w", id, backend.ErrNotFound)
	}
	data := tx.Bucket(bTasks).Get(k)
	if data == nil {
		return backend.Task{}, nil, fmt.Errorf("task %s: %w", id, backend.ErrNotFound)
	}
	var t backend.Task
	if err := json.Unmarshal(data, &t); err != nil {
		return backend.Task{}, nil, fmt.Errorf("task %s: corrupt record: %w", id, err)
	}
	return b.effective(t), k, nil
}

func appendEvent(tx *bolt.Tx, e backend.Event) error {
	bk := tx.Bucket(bEvents)
	n, err := bk.NextSequence()
	if err != nil {
		return err
	}
	return put(bk, key(n), e)
}

// saveTask stores t and records ev for it.
func (b *Board) saveTask(tx *bolt.Tx, k []byte, t backend.Task, kind backend.EventKind) error {
	if err := put(tx.Bucket(bTasks), k, t); err != nil {
		return err
	}
	snap := t
	return appendEvent(tx, backend.Event{Kind: kind, Time: t.Updated, Task: &snap})
}

// Create implements backend.Backend.
func (b *Board) Create(_ context.Context, nt backend.NewTask) (backend.Task, error) {
	var t backend.Task
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bTasks)
		n, err := bk.NextSequence()
		if err != nil {
			return err
		}
		now := b.now()
		t = backend.Task{ID: strconv.FormatUint(n, 10), Title: nt.Title, Body: nt.Body, To: nt.To,
			State: backend.Todo, Author: nt.Author, Created: now, Updated: now}
		return b.saveTask(tx, key(n), t, backend.TaskCreated)
	})
	if err != nil {
		return backend.Task{}, fmt.Errorf("local board: create task: %w", err)
	}
	return t, nil
}

// Get implements backend.Backend.
func (b *Board) Get(_ context.Context, id string) (backend.Task, error) {
	var t backend.Task
	err := b.db.View(func(tx *bolt.Tx) error {
		var err error
		if t, _, err = b.loadTask(tx, id); err != nil {
			return err
		}
		cb := tx.Bucket(bComments).Bucket([]byte(t.ID))
		if cb == nil {
			return nil
		}
		return cb.ForEach(func(_, v []byte) error {
			var c backend.Comment
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("task %s: corrupt comment: %w", id, err)
			}
			t.Comments = append(t.Comments, c)
			return nil
		})
	})
	return t, err
}

// List implements backend.Backend.
func (b *Board) List(_ context.Context, f backend.Filter) ([]backend.Task, error) {
	var out []backend.Task
	err := b.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bTasks).ForEach(func(k, v []byte) error {
			var t backend.Task
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("task %d: corrupt record: %w", binary.BigEndian.Uint64(k), err)
			}
			if t = b.effective(t); f.Match(t) {
				out = append(out, t)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("local board: list: %w", err)
	}
	return out, nil
}

// Claim implements backend.Backend.
func (b *Board) Claim(_ context.Context, id, agent string, lease time.Duration) (backend.Task, error) {
	var t backend.Task
	err := b.db.Update(func(tx *bolt.Tx) error {
		var (
			k   []byte
			err error
		)
		if t, k, err = b.loadTask(tx, id); err != nil {
			return err
		}
		switch {
		case t.To != "" && t.To != agent:
			return fmt.Errorf("claim task %s by %s: it is for %s: %w", id, agent, t.To, backend.ErrNotYours)
		case t.State.Held() && t.Holder != agent:
			return fmt.Errorf("claim task %s by %s: %s holds it: %w", id, agent, t.Holder, backend.ErrConflict)
		case t.State == backend.Done || t.State == backend.Blocked:
			return fmt.Errorf("claim task %s: it is %s: %w", id, t.State, backend.ErrTransition)
		}
		now := b.now()
		if !t.State.Held() {
			t.State = backend.Claimed
		}
		t.Holder, t.LeaseUntil, t.Updated = agent, now.Add(lease), now
		return b.saveTask(tx, k, t, backend.TaskChanged)
	})
	return t, err
}

// Update implements backend.Backend.
func (b *Board) Update(_ context.Context, id, agent string, to backend.State, note string, lease time.Duration) (backend.Task, error) {
	var t backend.Task
	err := b.db.Update(func(tx *bolt.Tx) error {
		var (
			k   []byte
			err error
		)
		if t, k, err = b.loadTask(tx, id); err != nil {
			return err
		}
		if !t.State.Held() || t.Holder != agent {
			return fmt.Errorf("update task %s by %s: %w", id, agent, backend.ErrNotHolder)
		}
		if !backend.CanTransition(t.State, to) {
			return fmt.Errorf("update task %s: %s -> %q: %w", id, t.State, to, backend.ErrTransition)
		}
		now := b.now()
		t.State, t.Updated = to, now
		if to.Held() {
			t.LeaseUntil = now.Add(lease)
		} else {
			t.Holder, t.LeaseUntil = "", time.Time{}
		}
		if err := b.saveTask(tx, k, t, backend.TaskChanged); err != nil {
			return err
		}
		if note == "" {
			return nil
		}
		_, err = b.addComment(tx, t, backend.NewComment{Author: backend.Author{Kind: backend.AgentAuthor, Name: agent}, Body: note})
		return err
	})
	return t, err
}

// Renew implements backend.Backend.
func (b *Board) Renew(_ context.Context, id, agent string, lease time.Duration) error {
	return b.db.Update(func(tx *bolt.Tx) error {
		t, k, err := b.loadTask(tx, id)
		if err != nil {
			return err
		}
		if !t.State.Held() || t.Holder != agent {
			return fmt.Errorf("renew task %s by %s: %w", id, agent, backend.ErrNotHolder)
		}
		t.LeaseUntil = b.now().Add(lease)
		// A renewal is not news: no event, or every heartbeat would wake
		// every waiting runner.
		return put(tx.Bucket(bTasks), k, t)
	})
}

func (b *Board) addComment(tx *bolt.Tx, t backend.Task, nc backend.NewComment) (backend.Comment, error) {
	cb, err := tx.Bucket(bComments).CreateBucketIfNotExists([]byte(t.ID))
	if err != nil {
		return backend.Comment{}, err
	}
	n, err := cb.NextSequence()
	if err != nil {
		return backend.Comment{}, err
	}
	c := backend.Comment{ID: t.ID + "." + strconv.FormatUint(n, 10), TaskID: t.ID, Author: nc.Author, Body: nc.Body, Created: b.now()}
	if err := put(cb, key(n), c); err != nil {
		return backend.Comment{}, err
	}
	snap := t
	snap.Comments = nil
	return c, appendEvent(tx, backend.Event{Kind: backend.CommentAdded, Time: c.Created, Task: &snap, Comment: &c})
}

// Comment implements backend.Backend.
func (b *Board) Comment(_ context.Context, id string, nc backend.NewComment) (backend.Comment, error) {
	var c backend.Comment
	err := b.db.Update(func(tx *bolt.Tx) error {
		t, _, err := b.loadTask(tx, id)
		if err != nil {
			return err
		}
		c, err = b.addComment(tx, t, nc)
		return err
	})
	return c, err
}

// record stores one new message or alert in bucket: build makes it from
// its sequence number; then, if not nil, follows it into the feed.
func record[T any](b *Board, bucket []byte, what string, build func(n uint64) T, then func(tx *bolt.Tx, v *T) error) (T, error) {
	var v T
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucket)
		n, err := bk.NextSequence()
		if err != nil {
			return err
		}
		v = build(n)
		if err := put(bk, key(n), v); err != nil || then == nil {
			return err
		}
		return then(tx, &v)
	})
	if err != nil {
		var zero T
		return zero, fmt.Errorf("local board: %s: %w", what, err)
	}
	return v, nil
}

// Post implements backend.Backend.
func (b *Board) Post(_ context.Context, nm backend.NewMessage) (backend.Message, error) {
	return record(b, bMessages, "post", func(n uint64) backend.Message {
		return backend.Message{ID: "m" + strconv.FormatUint(n, 10), Author: nm.Author, To: nm.To, Body: nm.Body, Created: b.now()}
	}, func(tx *bolt.Tx, m *backend.Message) error {
		return appendEvent(tx, backend.Event{Kind: backend.MessagePosted, Time: m.Created, Message: m})
	})
}

// Alert implements backend.Backend. Alerts are kept for `clem task` to
// show; they are not in the change feed, which is for agents.
func (b *Board) Alert(_ context.Context, na backend.NewAlert) (backend.Alert, error) {
	return record(b, bAlerts, "alert", func(n uint64) backend.Alert {
		return backend.Alert{ID: "a" + strconv.FormatUint(n, 10), Author: na.Author, Severity: na.Severity, Subject: na.Subject, Body: na.Body, Created: b.now()}
	}, nil)
}

// Alerts returns the most recent alerts, oldest first, at most limit.
func (b *Board) Alerts(limit int) ([]backend.Alert, error) {
	var out []backend.Alert
	err := b.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bAlerts).Cursor()
		for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
			var a backend.Alert
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("corrupt alert: %w", err)
			}
			out = append(out, a)
		}
		return nil
	})
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}

// pageSize bounds one Changes answer.
const pageSize = 256

// Changes implements backend.Backend. The cursor is the sequence number of
// the last event returned, in decimal.
func (b *Board) Changes(_ context.Context, cursor string) ([]backend.Event, string, error) {
	var after uint64
	if cursor != "" {
		n, err := strconv.ParseUint(cursor, 10, 64)
		if err != nil {
			return nil, "", fmt.Errorf("local board: cursor %q is not an event number", cursor)
		}
		after = n
	}
	var out []backend.Event
	last := after
	err := b.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bEvents).Cursor()
		for k, v := c.Seek(key(after + 1)); k != nil && len(out) < pageSize; k, v = c.Next() {
			var e backend.Event
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("corrupt event %d: %w", binary.BigEndian.Uint64(k), err)
			}
			last = binary.BigEndian.Uint64(k)
			e.Cursor = strconv.FormatUint(last, 10)
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("local board: changes: %w", err)
	}
	return out, strconv.FormatUint(last, 10), nil
}

var _ backend.Health = (*Board)(nil)

// Probe implements backend.Health: the oldest task is read and decoded,
// as List reads them, so a closed or corrupt board fails it.
func (b *Board) Probe(context.Context) error {
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bTasks)
		if bk == nil {
			return fmt.Errorf("no %s bucket", bTasks)
		}
		k, v := bk.Cursor().First()
		if k == nil {
			return nil
		}
		var t backend.Task
		if err := json.Unmarshal(v, &t); err != nil {
			return fmt.Errorf("task %d: corrupt record: %w", binary.BigEndian.Uint64(k), err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("local board: read: %w", err)
	}
	return nil
}

// DiskFull implements backend.Health.
func (b *Board) DiskFull() error { return b.db.DiskFull() }

// CursorAfter: the board's cursors are event numbers.
func (b *Board) CursorAfter(x, y string) bool { return backend.NumericCursorAfter(x, y) }
