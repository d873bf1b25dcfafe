package remote

import (
	"time"

	"github.com/clemhq/clem/coord/internal/backend"
)

// author is who wrote a thread or post: the record's author when coord's
// bot wrote on someone's behalf, else the person the service names.
func author(w Who, m *Meta) backend.Author {
	if w.Self {
		if m != nil && m.Author != nil {
			return *m.Author
		}
		return backend.Author{Kind: backend.System, Name: "coord"}
	}
	return backend.Author{Kind: backend.Person, Name: w.Name, ID: w.ID}
}

// folded is a task as its records make it, with the record that set the
// current lease (a renewal edits that one).
type folded struct {
	task      backend.Task
	leasePost *Post
	comments  []backend.Comment
}

// taskOf is th before any record.
func taskOf(th Thread) backend.Task {
	t := backend.Task{ID: th.ID, Title: th.Title, Body: th.Body, To: th.To, State: backend.Todo,
		Author: author(th.Author, th.Meta), Created: th.Created, URL: th.URL}
	if to, rest := SplitFor(t.Title); to != "" && !th.Author.Self {
		t.To, t.Title = to, rest
	}
	if th.Author.Self && th.Meta != nil {
		t.To, t.Created = th.Meta.To, th.Meta.At
	}
	t.Updated = t.Created
	return t
}

// fold replays th's records in post order and judges the lease at now.
// A record that would be refused now (a claim of a held task, a change
// by a non-holder) is refused in the replay too, so a lost race simply
// does not count.
func fold(th Thread, posts []Post, now time.Time) folded {
	f := folded{task: taskOf(th)}
	t := &f.task
	expire := func(at time.Time) {
		if t.State.Held() && !at.Before(t.LeaseUntil) {
			t.State, t.Holder, t.LeaseUntil, f.leasePost = backend.Todo, "", time.Time{}, nil
		}
	}
	for i := range posts {
		p := &posts[i]
		m := p.Meta
		if !p.Author.Self || m == nil || (m.Kind != KindClaim && m.Kind != KindState) {
			if m == nil || m.Kind == KindComment || !p.Author.Self {
				f.comments = append(f.comments, comment(th, *p))
			}
			continue
		}
		expire(m.At)
		switch m.Kind {
		case KindClaim:
			final := t.State == backend.Done || t.State == backend.Blocked
			if final || (t.To != "" && t.To != m.Agent) || (t.State.Held() && t.Holder != m.Agent) {
				continue
			}
			if !t.State.Held() {
				t.State = backend.Claimed
			}
			t.Holder, t.LeaseUntil, t.Updated, f.leasePost = m.Agent, m.Lease, m.At, p
		case KindState:
			if !t.State.Held() || t.Holder != m.Agent || !backend.CanTransition(t.State, m.State) {
				continue
			}
			t.State, t.Updated = m.State, m.At
			if m.State.Held() {
				t.LeaseUntil, f.leasePost = m.Lease, p
			} else {
				t.Holder, t.LeaseUntil, f.leasePost = "", time.Time{}, nil
			}
			if note := Payload(p.Body); note != "" {
				f.comments = append(f.comments, backend.Comment{ID: p.ID, TaskID: th.ID,
					Author: backend.Author{Kind: backend.AgentAuthor, Name: m.Agent}, Body: note, Created: m.At})
			}
		}
	}
	expire(now)
	if th.Closed && t.State != backend.Done {
		// A person closed it on the service: that is done.
		t.State, t.Holder, t.LeaseUntil, f.leasePost = backend.Done, "", time.Time{}, nil
	}
	return f
}

// comment is a post as a task comment.
func comment(th Thread, p Post) backend.Comment {
	c := backend.Comment{ID: p.ID, TaskID: th.ID, Author: author(p.Author, p.Meta), Body: p.Body, Created: p.Created}
	if p.Author.Self && p.Meta != nil {
		c.Body, c.Created = Payload(p.Body), p.Meta.At
	}
	return c
}

// message is a post in the messages thread as a message.
func message(p Post) backend.Message {
	if p.Author.Self && p.Meta != nil {
		return backend.Message{ID: p.ID, Author: author(p.Author, p.Meta), To: p.Meta.To, Body: Payload(p.Body), Created: p.Meta.At}
	}
	to, body := SplitTo(p.Body)
	return backend.Message{ID: p.ID, Author: author(p.Author, nil), To: to, Body: body, Created: p.Created}
}
