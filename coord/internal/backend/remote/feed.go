package remote

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"

	bolt "go.etcd.io/bbolt"

	"github.com/clemhq/clem/coord/internal/backend"
	"github.com/clemhq/clem/coord/internal/boltdb"
)

// The feed: events in order, and what of the service has been seen, so a
// sync turns only what is new into events.
var (
	bEvents = []byte("events") // seq -> backend.Event
	bSeen   = []byte("seen")   // "t:"+thread -> snapshot; "p:"+thread+"/"+post -> ""
	bMeta   = []byte("meta")   // "synced" once the first sync ran
)

// snapshot is what the feed last said about a task.
type snapshot struct {
	State  backend.State `json:"state"`
	Holder string        `json:"holder,omitempty"`
}

func openFeed(path string) (*boltdb.DB, error) {
	db, err := boltdb.Open(path, bEvents, bSeen, bMeta)
	if err != nil {
		return nil, fmt.Errorf("feed: %w", err)
	}
	return db, nil
}

func seq(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func postKey(thread, post string) []byte { return []byte("p:" + thread + "/" + post) }

// journal is one feed transaction.
type journal struct {
	tx *bolt.Tx
	n  int
}

func (j *journal) add(e backend.Event) error {
	bk := j.tx.Bucket(bEvents)
	n, err := bk.NextSequence()
	if err != nil {
		return err
	}
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	j.n++
	return bk.Put(seq(n), data)
}

func (j *journal) seen(k []byte) bool { return j.tx.Bucket(bSeen).Get(k) != nil }

func (j *journal) see(k []byte) error { return j.tx.Bucket(bSeen).Put(k, []byte{}) }

func (j *journal) snapshot(id string) (snapshot, bool) {
	v := j.tx.Bucket(bSeen).Get([]byte("t:" + id))
	var s snapshot
	if v == nil || json.Unmarshal(v, &s) != nil {
		return s, false
	}
	return s, true
}

func (j *journal) setSnapshot(id string, s snapshot) error {
	data, _ := json.Marshal(s)
	return j.tx.Bucket(bSeen).Put([]byte("t:"+id), data)
}

// taskEvent records kind for t (without comments) and remembers its state.
func (j *journal) taskEvent(kind backend.EventKind, t backend.Task) error {
	snap := t
	snap.Comments = nil
	if err := j.add(backend.Event{Kind: kind, Time: t.Updated, Task: &snap}); err != nil {
		return err
	}
	return j.setSnapshot(t.ID, snapshot{State: t.State, Holder: t.Holder})
}

// write runs fn in one feed transaction.
func (e *Engine) write(fn func(j *journal) error) error {
	err := e.feed.Update(func(tx *bolt.Tx) error { return fn(&journal{tx: tx}) })
	if err != nil {
		return fmt.Errorf("%s feed: %w", e.svc.Kind(), err)
	}
	return nil
}

// feedPage bounds one Changes answer.
const feedPage = 256

// Changes implements backend.Backend: the journal after cursor, a decimal
// event number.
func (e *Engine) Changes(_ context.Context, cursor string) ([]backend.Event, string, error) {
	var after uint64
	if cursor != "" {
		n, err := strconv.ParseUint(cursor, 10, 64)
		if err != nil {
			return nil, "", fmt.Errorf("%s feed: cursor %q is not an event number", e.svc.Kind(), cursor)
		}
		after = n
	}
	var out []backend.Event
	last := after
	err := e.feed.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bEvents).Cursor()
		for k, v := c.Seek(seq(after + 1)); k != nil && len(out) < feedPage; k, v = c.Next() {
			var ev backend.Event
			if err := json.Unmarshal(v, &ev); err != nil {
				return fmt.Errorf("corrupt event %d: %w", binary.BigEndian.Uint64(k), err)
			}
			last = binary.BigEndian.Uint64(k)
			ev.Cursor = strconv.FormatUint(last, 10)
			out = append(out, ev)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("%s feed: %w", e.svc.Kind(), err)
	}
	return out, strconv.FormatUint(last, 10), nil
}

// Sync reads the service and journals what changed there without going
// through this Engine: new tasks, changed states (a lapsed lease too), new
// comments and messages. The first sync of an empty feed journals the
// open tasks only, not history. It returns how many events it added.
func (e *Engine) Sync(ctx context.Context) (int, error) {
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	threads, err := e.svc.Threads(ctx)
	if err != nil {
		return 0, err
	}
	posts := make([][]Post, len(threads))
	for i, th := range threads {
		if posts[i], err = e.posts(ctx, th); err != nil {
			return 0, err
		}
	}
	now := e.now()
	var added int
	err = e.write(func(j *journal) error {
		first := j.tx.Bucket(bMeta).Get([]byte("synced")) == nil
		for i, th := range threads {
			var err error
			if th.isMessages() {
				e.setMessages(th)
				err = syncMessages(j, th, posts[i], first)
			} else {
				err = syncTask(j, fold(th, posts[i], now), th, posts[i], first)
			}
			if err != nil {
				return err
			}
		}
		added = j.n
		return j.tx.Bucket(bMeta).Put([]byte("synced"), []byte{1})
	})
	return added, err
}

// syncMessages journals the messages thread's new posts.
func syncMessages(j *journal, th Thread, posts []Post, first bool) error {
	for _, p := range posts {
		k := postKey(th.ID, p.ID)
		if j.seen(k) {
			continue
		}
		if !first && (!p.Author.Self || p.Meta != nil && p.Meta.Kind == KindMessage) {
			m := message(p)
			if err := j.add(backend.Event{Kind: backend.MessagePosted, Time: m.Created, Message: &m}); err != nil {
				return err
			}
		}
		if err := j.see(k); err != nil {
			return err
		}
	}
	return nil
}

// syncTask journals what is new about one task thread.
func syncTask(j *journal, f folded, th Thread, posts []Post, first bool) error {
	t := f.task
	s, known := j.snapshot(th.ID)
	final := t.State == backend.Done || t.State == backend.Blocked
	var err error
	switch {
	case !known && first && final:
		err = j.setSnapshot(th.ID, snapshot{State: t.State, Holder: t.Holder})
	case !known:
		err = j.taskEvent(backend.TaskCreated, t)
	case s.State != t.State || s.Holder != t.Holder:
		err = j.taskEvent(backend.TaskChanged, t)
	}
	if err != nil {
		return err
	}
	for _, c := range f.comments {
		k := postKey(th.ID, c.ID)
		if j.seen(k) {
			continue
		}
		if known {
			snap := t
			if err := j.add(backend.Event{Kind: backend.CommentAdded, Time: c.Created, Task: &snap, Comment: &c}); err != nil {
				return err
			}
		}
		if err := j.see(k); err != nil {
			return err
		}
	}
	for _, p := range posts {
		if err := j.see(postKey(th.ID, p.ID)); err != nil {
			return err
		}
	}
	return nil
}

var _ backend.Health = (*Engine)(nil)

// Probe implements backend.Health: the feed's newest event is read and
// decoded, as Changes reads them. The service itself is not asked (see
// backend.Health).
func (e *Engine) Probe(context.Context) error {
	err := e.feed.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bEvents)
		if bk == nil {
			return fmt.Errorf("no %s bucket", bEvents)
		}
		k, v := bk.Cursor().Last()
		if k == nil {
			return nil
		}
		var ev backend.Event
		if err := json.Unmarshal(v, &ev); err != nil {
			return fmt.Errorf("corrupt event %d: %w", binary.BigEndian.Uint64(k), err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s feed: read: %w", e.svc.Kind(), err)
	}
	return nil
}

// DiskFull implements backend.Health.
func (e *Engine) DiskFull() error { return e.feed.DiskFull() }

// CursorAfter: the feed's cursors are event numbers.
func (e *Engine) CursorAfter(a, b string) bool { return backend.NumericCursorAfter(a, b) }
