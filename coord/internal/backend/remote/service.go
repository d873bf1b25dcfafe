package remote

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/clemhq/clem/coord/internal/backend"
)

// Who wrote a thread or post, as the service says.
type Who struct {
	ID   string // the service's stable user id
	Name string // login or user name: what operators are listed by
	// Self: coord's own bot account. Only then is Meta believed.
	Self bool
}

// Thread is an issue, a top-level message or a forum post.
type Thread struct {
	ID      string
	Title   string // without any status decoration the service adds
	Body    string
	To      string // addressee by the service's own convention (a label), if any
	Author  Who
	Meta    *Meta // the bot's record, nil if none or not the bot's
	Created time.Time
	// Version changes whenever posts are added; "" means unknown (always
	// re-read).
	Version string
	// Closed: closed on the service (a GitHub issue); reads as done.
	Closed bool
	URL    string
}

// Post is a comment, a thread reply or a thread message.
type Post struct {
	ID      string
	Author  Who
	Body    string // the visible text, without the record
	Meta    *Meta  // the bot's record, nil if none or not the bot's
	Created time.Time
}

// Service is one remote service, through its client library. Errors that
// may heal are backend.Temporary; unknown threads are backend.ErrNotFound.
type Service interface {
	Kind() string
	// Threads lists every task thread and the messages thread, oldest
	// first.
	Threads(ctx context.Context) ([]Thread, error)
	// Thread reads one thread; ErrNotFound if it is none of Threads'.
	Thread(ctx context.Context, id string) (Thread, error)
	// Posts lists th's posts, oldest first, without the thread's opening.
	Posts(ctx context.Context, th Thread) ([]Post, error)
	// StartThread opens a thread carrying m.
	StartThread(ctx context.Context, title, body string, m Meta) (Thread, error)
	// AddPost adds a post carrying m to th.
	AddPost(ctx context.Context, th Thread, body string, m Meta) (Post, error)
	// EditPost replaces the bot's post p with body and m.
	EditPost(ctx context.Context, th Thread, p Post, body string, m Meta) error
	// Show mirrors t's state where people look: labels, reactions, titles.
	Show(ctx context.Context, th Thread, t backend.Task) error
	// Alert sends a to the alerts place and returns its id there.
	Alert(ctx context.Context, a backend.Alert) (string, error)
	// Watch runs until ctx is done, calling poke whenever the service may
	// have changed (a push event, a poll that saw a new ETag).
	Watch(ctx context.Context, poke func()) error
	Close() error
}

var (
	forRE = regexp.MustCompile(`^for:([a-z][a-z0-9_-]{0,31})\s+`)
	toRE  = regexp.MustCompile(`^to:([a-z][a-z0-9_-]{0,31})\s+`)
)

// SplitFor takes the addressee off a person's task title: "for:dev fix
// it" is "fix it" for dev.
func SplitFor(title string) (to, rest string) {
	if m := forRE.FindStringSubmatch(title); m != nil {
		return m[1], title[len(m[0]):]
	}
	return "", title
}

// SplitTo takes the addressee off a person's message: "to:dev rebase" is
// "rebase" for dev; without it, for everyone.
func SplitTo(body string) (to, rest string) {
	if m := toRE.FindStringSubmatch(body); m != nil {
		return m[1], body[len(m[0]):]
	}
	return "", body
}

// Compose is the visible text of a bot post: a header line for people and,
// after a blank line, the payload (a comment, a note, a message).
func Compose(header, payload string) string {
	if payload == "" {
		return header
	}
	return header + "\n\n" + payload
}

// Payload is the part of a bot post after its header.
func Payload(text string) string {
	if _, after, ok := strings.Cut(text, "\n\n"); ok {
		return after
	}
	return ""
}

// Header describes m for people reading the service.
func Header(m Meta) string {
	switch m.Kind {
	case KindClaim:
		return "🤖 claimed by agent " + m.Agent
	case KindState:
		return "🤖 " + m.Agent + ": " + strings.ReplaceAll(string(m.State), "_", " ")
	case KindVoid:
		return "🤖 claim by agent " + m.Agent + " withdrawn: another agent was first"
	case KindComment, KindMessage:
		if m.Author == nil {
			return "🤖 coord"
		}
		h := "🤖 " + string(m.Author.Kind) + " " + m.Author.Name
		if m.To != "" {
			h += " to agent " + m.To
		}
		return h + ":"
	}
	return "🤖 coord"
}

// ThreadOf states the task thread's record: who created it through coord,
// for whom, when.
func ThreadOf(nt backend.NewTask, at time.Time) Meta {
	a := nt.Author
	return Meta{Kind: KindTask, Author: &a, To: nt.To, At: at}
}
