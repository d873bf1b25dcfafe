package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/clemhq/clem/coord/internal/backend"
	"github.com/clemhq/clem/coord/internal/boltdb"
)

// Engine is a backend.Backend on top of a Service.
type Engine struct {
	svc  Service
	now  func() time.Time
	log  *slog.Logger
	feed *boltdb.DB

	// syncMu: a write through the Engine holds it shared from its first
	// service call to its journal entry; Sync holds it alone, so it never
	// journals a post the Engine is about to journal itself.
	syncMu sync.RWMutex

	locksMu sync.Mutex
	locks   map[string]*taskLock

	cacheMu sync.Mutex
	cache   map[string]cached // thread id -> its posts at a version

	msgMu    sync.Mutex
	messages *Thread // the messages thread, once found or made
}

type taskLock struct {
	mu   sync.Mutex
	refs int
}

type cached struct {
	version string
	posts   []Post
}

var _ backend.Backend = (*Engine)(nil)

// New builds an Engine over svc. feedPath is the change feed's database
// in coord's state directory; now is the lease clock; log gets what the
// Engine cannot return (a status mirror that failed after the record was
// written).
func New(svc Service, feedPath string, now func() time.Time, log *slog.Logger) (*Engine, error) {
	db, err := openFeed(feedPath)
	if err != nil {
		return nil, err
	}
	return &Engine{svc: svc, now: now, log: log, feed: db, locks: map[string]*taskLock{}, cache: map[string]cached{}}, nil
}

// Kind implements backend.Backend.
func (e *Engine) Kind() string { return e.svc.Kind() }

// Close implements backend.Backend.
func (e *Engine) Close() error { return errors.Join(e.svc.Close(), e.feed.Close()) }

// lock serialises the writes to one task within this coord.
func (e *Engine) lock(id string) func() {
	e.locksMu.Lock()
	l := e.locks[id]
	if l == nil {
		l = &taskLock{}
		e.locks[id] = l
	}
	l.refs++
	e.locksMu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		e.locksMu.Lock()
		if l.refs--; l.refs == 0 {
			delete(e.locks, id)
		}
		e.locksMu.Unlock()
	}
}

func (th Thread) isMessages() bool {
	return th.Author.Self && th.Meta != nil && th.Meta.Kind == KindMessages
}

// posts reads th's posts, from the cache while th.Version is unchanged.
func (e *Engine) posts(ctx context.Context, th Thread) ([]Post, error) {
	e.cacheMu.Lock()
	c, ok := e.cache[th.ID]
	e.cacheMu.Unlock()
	if ok && th.Version != "" && c.version == th.Version {
		return c.posts, nil
	}
	ps, err := e.svc.Posts(ctx, th)
	if err != nil {
		return nil, err
	}
	e.cacheMu.Lock()
	e.cache[th.ID] = cached{version: th.Version, posts: ps}
	e.cacheMu.Unlock()
	return ps, nil
}

// forget drops th's cached posts after a write to it.
func (e *Engine) forget(id string) {
	e.cacheMu.Lock()
	delete(e.cache, id)
	e.cacheMu.Unlock()
}

// load reads task id fresh from the service and folds it.
func (e *Engine) load(ctx context.Context, id string) (Thread, folded, error) {
	th, err := e.svc.Thread(ctx, id)
	if err != nil {
		return Thread{}, folded{}, err
	}
	if th.isMessages() {
		return Thread{}, folded{}, fmt.Errorf("%s: %s is the messages thread, not a task: %w", e.Kind(), id, backend.ErrNotFound)
	}
	ps, err := e.posts(ctx, th)
	if err != nil {
		return Thread{}, folded{}, err
	}
	return th, fold(th, ps, e.now()), nil
}

// show mirrors t on the service; the records are the truth, so a failed
// mirror is logged and mended by the next change.
func (e *Engine) show(ctx context.Context, th Thread, t backend.Task) {
	if err := e.svc.Show(ctx, th, t); err != nil {
		e.log.Warn("could not show a task's state on the service; the next change retries", "backend", e.Kind(), "task", t.ID, "state", t.State, "err", err)
	}
}

// Create implements backend.Backend.
func (e *Engine) Create(ctx context.Context, nt backend.NewTask) (backend.Task, error) {
	e.syncMu.RLock()
	defer e.syncMu.RUnlock()
	th, err := e.svc.StartThread(ctx, nt.Title, nt.Body, ThreadOf(nt, e.now()))
	if err != nil {
		return backend.Task{}, fmt.Errorf("%s: create task: %w", e.Kind(), err)
	}
	t := fold(th, nil, e.now()).task
	e.show(ctx, th, t)
	return t, e.write(func(j *journal) error { return j.taskEvent(backend.TaskCreated, t) })
}

// Get implements backend.Backend.
func (e *Engine) Get(ctx context.Context, id string) (backend.Task, error) {
	_, f, err := e.load(ctx, id)
	if err != nil {
		return backend.Task{}, err
	}
	f.task.Comments = f.comments
	return f.task, nil
}

// List implements backend.Backend.
func (e *Engine) List(ctx context.Context, flt backend.Filter) ([]backend.Task, error) {
	threads, err := e.svc.Threads(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: list: %w", e.Kind(), err)
	}
	now := e.now()
	var out []backend.Task
	for _, th := range threads {
		if th.isMessages() {
			continue
		}
		ps, err := e.posts(ctx, th)
		if err != nil {
			return nil, fmt.Errorf("%s: list: task %s: %w", e.Kind(), th.ID, err)
		}
		if t := fold(th, ps, now).task; flt.Match(t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// Claim implements backend.Backend: post a claim, re-read, and withdraw it
// if an earlier claim counts instead.
func (e *Engine) Claim(ctx context.Context, id, agent string, lease time.Duration) (backend.Task, error) {
	defer e.lock(id)()
	e.syncMu.RLock()
	defer e.syncMu.RUnlock()
	th, f, err := e.load(ctx, id)
	if err != nil {
		return backend.Task{}, err
	}
	t := f.task
	switch {
	case t.To != "" && t.To != agent:
		return backend.Task{}, fmt.Errorf("claim task %s by %s: it is for %s: %w", id, agent, t.To, backend.ErrNotYours)
	case t.State.Held() && t.Holder != agent:
		return backend.Task{}, fmt.Errorf("claim task %s by %s: %s holds it: %w", id, agent, t.Holder, backend.ErrConflict)
	case t.State == backend.Done || t.State == backend.Blocked:
		return backend.Task{}, fmt.Errorf("claim task %s: it is %s: %w", id, t.State, backend.ErrTransition)
	case t.State.Held():
		// Claiming one's own task renews it.
		if err := e.renew(ctx, th, f, lease); err != nil {
			return backend.Task{}, err
		}
		t.LeaseUntil = e.now().Add(lease)
		return t, nil
	}
	now := e.now()
	m := Meta{Kind: KindClaim, Agent: agent, At: now, Lease: now.Add(lease)}
	p, err := e.svc.AddPost(ctx, th, Header(m), m)
	if err != nil {
		return backend.Task{}, fmt.Errorf("claim task %s: %w", id, err)
	}
	e.forget(id)
	th, f, err = e.load(ctx, id)
	if err != nil {
		return backend.Task{}, fmt.Errorf("claim task %s: re-read: %w", id, err)
	}
	if t = f.task; !t.State.Held() || t.Holder != agent {
		void := m
		void.Kind = KindVoid
		if err := e.svc.EditPost(ctx, th, p, Header(void), void); err != nil {
			e.log.Warn("could not withdraw a lost claim; it does not count either way", "backend", e.Kind(), "task", id, "err", err)
		}
		e.forget(id)
		return backend.Task{}, fmt.Errorf("claim task %s by %s: %s was first: %w", id, agent, t.Holder, backend.ErrConflict)
	}
	e.show(ctx, th, t)
	return t, e.write(func(j *journal) error {
		if err := j.see(postKey(id, p.ID)); err != nil {
			return err
		}
		return j.taskEvent(backend.TaskChanged, t)
	})
}

// renew moves the lease of f's holder to lease from now by editing the
// record that set it: a renewal is not news.
func (e *Engine) renew(ctx context.Context, th Thread, f folded, lease time.Duration) error {
	p := f.leasePost
	if p == nil || p.Meta == nil {
		return fmt.Errorf("renew task %s: no record holds the lease: %w", th.ID, backend.ErrNotHolder)
	}
	m := *p.Meta
	m.Lease = e.now().Add(lease)
	if err := e.svc.EditPost(ctx, th, *p, p.Body, m); err != nil {
		return fmt.Errorf("renew task %s: %w", th.ID, err)
	}
	e.forget(th.ID)
	return nil
}

// Update implements backend.Backend.
func (e *Engine) Update(ctx context.Context, id, agent string, to backend.State, note string, lease time.Duration) (backend.Task, error) {
	defer e.lock(id)()
	e.syncMu.RLock()
	defer e.syncMu.RUnlock()
	th, f, err := e.load(ctx, id)
	if err != nil {
		return backend.Task{}, err
	}
	if t := f.task; !t.State.Held() || t.Holder != agent {
		return backend.Task{}, fmt.Errorf("update task %s by %s: %w", id, agent, backend.ErrNotHolder)
	} else if !backend.CanTransition(t.State, to) {
		return backend.Task{}, fmt.Errorf("update task %s: %s -> %q: %w", id, t.State, to, backend.ErrTransition)
	}
	now := e.now()
	m := Meta{Kind: KindState, Agent: agent, State: to, At: now}
	if to.Held() {
		m.Lease = now.Add(lease)
	}
	p, err := e.svc.AddPost(ctx, th, Compose(Header(m), note), m)
	if err != nil {
		return backend.Task{}, fmt.Errorf("update task %s: %w", id, err)
	}
	e.forget(id)
	t, err := e.reread(ctx, id, f.task, m)
	if err != nil {
		return backend.Task{}, err
	}
	return t, e.write(func(j *journal) error {
		if err := j.taskEvent(backend.TaskChanged, t); err != nil {
			return err
		}
		if err := j.see(postKey(id, p.ID)); err != nil || note == "" {
			return err
		}
		c := backend.Comment{ID: p.ID, TaskID: id, Author: backend.Author{Kind: backend.AgentAuthor, Name: agent}, Body: note, Created: now}
		return j.add(backend.Event{Kind: backend.CommentAdded, Time: now, Task: &t, Comment: &c})
	})
}

// reread reads task id again after its state record m was posted, checks
// that m took effect, and mirrors the task on the service. The record is
// posted, so the update happened: when the service fails temporarily now
// (an outage that began between the two requests), the task is computed
// from before plus m, as fold would, rather than reported as failed, which
// would make coord's outbox post the record a second time. Its mirror
// waits for the next change.
func (e *Engine) reread(ctx context.Context, id string, before backend.Task, m Meta) (backend.Task, error) {
	th, f, err := e.load(ctx, id)
	if _, temp := backend.IsTemporary(err); temp {
		t := before
		t.State, t.Updated = m.State, m.At
		if m.State.Held() {
			t.LeaseUntil = m.Lease
		} else {
			t.Holder, t.LeaseUntil = "", time.Time{}
		}
		e.log.Warn("task updated, but reading it back failed; its labels follow with the next change", "backend", e.Kind(), "task", id, "state", m.State, "err", err)
		return t, nil
	}
	if err != nil {
		return backend.Task{}, fmt.Errorf("update task %s: re-read: %w", id, err)
	}
	t := f.task
	if t.State != m.State || !t.Updated.Equal(m.At) {
		return backend.Task{}, fmt.Errorf("update task %s: it changed meanwhile and reads %s: %w", id, t.State, backend.ErrConflict)
	}
	e.show(ctx, th, t)
	return t, nil
}

// Renew implements backend.Backend.
func (e *Engine) Renew(ctx context.Context, id, agent string, lease time.Duration) error {
	defer e.lock(id)()
	th, f, err := e.load(ctx, id)
	if err != nil {
		return err
	}
	if !f.task.State.Held() || f.task.Holder != agent {
		return fmt.Errorf("renew task %s by %s: %w", id, agent, backend.ErrNotHolder)
	}
	return e.renew(ctx, th, f, lease)
}

// Comment implements backend.Backend.
func (e *Engine) Comment(ctx context.Context, id string, nc backend.NewComment) (backend.Comment, error) {
	defer e.lock(id)()
	e.syncMu.RLock()
	defer e.syncMu.RUnlock()
	th, f, err := e.load(ctx, id)
	if err != nil {
		return backend.Comment{}, err
	}
	a := nc.Author
	m := Meta{Kind: KindComment, Author: &a, At: e.now()}
	p, err := e.svc.AddPost(ctx, th, Compose(Header(m), nc.Body), m)
	if err != nil {
		return backend.Comment{}, fmt.Errorf("comment on task %s: %w", id, err)
	}
	e.forget(id)
	c := backend.Comment{ID: p.ID, TaskID: id, Author: a, Body: nc.Body, Created: m.At}
	t := f.task
	return c, e.write(func(j *journal) error {
		if err := j.see(postKey(id, p.ID)); err != nil {
			return err
		}
		return j.add(backend.Event{Kind: backend.CommentAdded, Time: c.Created, Task: &t, Comment: &c})
	})
}

func (e *Engine) setMessages(th Thread) {
	e.msgMu.Lock()
	if e.messages == nil {
		e.messages = &th
	}
	e.msgMu.Unlock()
}

// messagesThread finds the messages thread, or starts it.
func (e *Engine) messagesThread(ctx context.Context) (Thread, error) {
	e.msgMu.Lock()
	defer e.msgMu.Unlock()
	if e.messages != nil {
		return *e.messages, nil
	}
	threads, err := e.svc.Threads(ctx)
	if err != nil {
		return Thread{}, err
	}
	for _, th := range threads {
		if th.isMessages() {
			e.messages = &th
			return th, nil
		}
	}
	th, err := e.svc.StartThread(ctx, "clem: messages for the agents",
		"Messages to the agents, one a reply. Start one with to:<agent> for one agent; without it, it is for all.",
		Meta{Kind: KindMessages, At: e.now()})
	if err != nil {
		return Thread{}, err
	}
	e.messages = &th
	return th, nil
}

// Post implements backend.Backend: a reply in the messages thread.
func (e *Engine) Post(ctx context.Context, nm backend.NewMessage) (backend.Message, error) {
	e.syncMu.RLock()
	defer e.syncMu.RUnlock()
	th, err := e.messagesThread(ctx)
	if err != nil {
		return backend.Message{}, fmt.Errorf("%s: post: %w", e.Kind(), err)
	}
	a := nm.Author
	m := Meta{Kind: KindMessage, Author: &a, To: nm.To, At: e.now()}
	p, err := e.svc.AddPost(ctx, th, Compose(Header(m), nm.Body), m)
	if err != nil {
		return backend.Message{}, fmt.Errorf("%s: post: %w", e.Kind(), err)
	}
	msg := backend.Message{ID: p.ID, Author: a, To: nm.To, Body: nm.Body, Created: m.At}
	return msg, e.write(func(j *journal) error {
		if err := j.see(postKey(th.ID, p.ID)); err != nil {
			return err
		}
		return j.add(backend.Event{Kind: backend.MessagePosted, Time: msg.Created, Message: &msg})
	})
}

// Alert implements backend.Backend.
func (e *Engine) Alert(ctx context.Context, na backend.NewAlert) (backend.Alert, error) {
	a := backend.Alert{Author: na.Author, Severity: na.Severity, Subject: na.Subject, Body: na.Body, Created: e.now()}
	id, err := e.svc.Alert(ctx, a)
	if err != nil {
		return backend.Alert{}, fmt.Errorf("%s: alert: %w", e.Kind(), err)
	}
	a.ID = id
	return a, nil
}

// Watch implements backend.Backend: the service pokes, the Engine syncs,
// and the core hears of it only when the sync found something.
func (e *Engine) Watch(ctx context.Context, changed func()) error {
	wctx, cancel := context.WithCancel(ctx)
	poke := make(chan struct{}, 1)
	errc := make(chan error, 1)
	// The service's watch ends before Watch returns (a push connection
	// closed, a poll in flight answered), so nothing of it outlives Watch.
	watchEnded := false
	defer func() {
		cancel()
		if !watchEnded {
			<-errc
		}
	}()
	go func() {
		errc <- e.svc.Watch(wctx, func() {
			select {
			case poke <- struct{}{}:
			default:
			}
		})
	}()
	syncNow := func() error {
		n, err := e.Sync(wctx)
		if err != nil {
			return fmt.Errorf("%s: sync: %w", e.Kind(), err)
		}
		if n > 0 {
			changed()
		}
		return nil
	}
	if err := syncNow(); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errc:
			watchEnded = true
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%s: watch: %w", e.Kind(), err)
		case <-poke:
			if err := syncNow(); err != nil {
				return err
			}
		}
	}
}
