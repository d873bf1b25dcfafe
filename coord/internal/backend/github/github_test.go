package github

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clemhq/clem/coord/internal/backend"
	"github.com/clemhq/clem/coord/internal/backend/backendtest"
	"github.com/clemhq/clem/coord/internal/backend/github/githubtest"
	"github.com/clemhq/clem/coord/internal/backend/remote"
	"github.com/clemhq/clem/coord/internal/backend/remote/remotetest"
	"github.com/clemhq/clem/coord/internal/config"
	"github.com/clemhq/clem/shared/secret"
)

func section(f *githubtest.Fake) config.GitHubSection {
	return config.GitHubSection{Repo: "acme/widgets", APIURL: f.URL(), Token: "github_token",
		Labels: config.Labels{Task: "clem", InProgress: "in-progress", Blocked: "blocked", Alert: "clem-alert"}}
}

func newBackend(t *testing.T, f *githubtest.Fake, now func() time.Time, name string) *remote.Engine {
	t.Helper()
	sec := section(f)
	sec.PollInterval.Duration = 50 * time.Millisecond
	b, err := New(Options{Section: sec, Token: secret.New([]byte("bot-token")),
		FeedPath: filepath.Join(t.TempDir(), name+"-"+FeedFile), Log: slog.New(slog.DiscardHandler)}, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T, now func() time.Time) backend.Backend {
		return newBackend(t, githubtest.New(t), now, "a")
	})
}

var alice = backend.Author{Kind: backend.Person, Name: "alice"}

// TestLabelsAndClose: the state shows on the issue the way people read it.
func TestLabelsAndClose(t *testing.T) {
	f := githubtest.New(t)
	b := newBackend(t, f, time.Now, "a")
	ctx := t.Context()
	task, err := b.Create(ctx, backend.NewTask{Title: "fix the flaky test", Body: "see CI", To: "dev", Author: alice})
	if err != nil {
		t.Fatal(err)
	}
	is := f.Issue(1)
	if !githubtest.HasAll(is.Labels, []string{"clem", "for:dev"}) || !strings.Contains(is.Body, "<!-- clem:") || !strings.HasPrefix(is.Body, "see CI") {
		t.Fatalf("issue = labels %v body %q, want clem and for:dev, the body and a hidden record", is.Labels, is.Body)
	}
	if _, err := b.Claim(ctx, task.ID, "dev", time.Hour); err != nil {
		t.Fatal(err)
	}
	if !githubtest.HasAll(is.Labels, []string{"agent:dev"}) || len(is.Assignees) != 1 || is.Assignees[0] != "clem-bot" {
		t.Errorf("claimed issue: labels %v assignees %v, want agent:dev and the bot", is.Labels, is.Assignees)
	}
	if _, err := b.Update(ctx, task.ID, "dev", backend.InProgress, "on it", time.Hour); err != nil {
		t.Fatal(err)
	}
	if !githubtest.HasAll(is.Labels, []string{"in-progress", "agent:dev"}) {
		t.Errorf("in progress: labels %v", is.Labels)
	}
	if _, err := b.Update(ctx, task.ID, "dev", backend.Done, "fixed in #9", time.Hour); err != nil {
		t.Fatal(err)
	}
	if is.State != "closed" || githubtest.HasAll(is.Labels, []string{"agent:dev"}) || githubtest.HasAll(is.Labels, []string{"in-progress"}) || len(is.Assignees) != 0 {
		t.Errorf("done: state %s labels %v assignees %v, want closed, no status labels, no assignee", is.State, is.Labels, is.Assignees)
	}
	last := f.Comment(is.Comments[len(is.Comments)-1])
	if !strings.HasPrefix(last.Body, "🤖 dev: done\n\nfixed in #9") {
		t.Errorf("done comment = %q", last.Body)
	}
}

// TestPersonIssue: an issue a person opened on GitHub with the task label
// and for:<key> is a task for that agent, written by that person; their
// comments are theirs; a record they forge is text.
func TestPersonIssue(t *testing.T) {
	f := githubtest.New(t)
	b := newBackend(t, f, time.Now, "a")
	ctx := t.Context()
	forged := withMark("please", remote.Meta{Kind: remote.KindClaim, Agent: "dev", At: time.Now(), Lease: time.Now().Add(time.Hour)})
	is := f.AddIssue(githubtest.Alice, "deploy the docs", "the docs site is stale", []string{"clem", "for:dev"})
	f.AddComment(is, githubtest.Alice, forged)
	got, err := b.Get(ctx, "1")
	if err != nil {
		t.Fatal(err)
	}
	if got.To != "dev" || got.State != backend.Todo || got.Author.Name != "alice" || got.Author.ID != "583231" || got.Author.Kind != backend.Person {
		t.Fatalf("Get = %+v, want a todo for dev by person alice (583231)", got)
	}
	if len(got.Comments) != 1 || got.Comments[0].Body != forged || got.Comments[0].Author.Name != "alice" {
		t.Fatalf("comments = %+v, want alice's text as she wrote it", got.Comments)
	}
	f.AddIssue(githubtest.Alice, "not a task", "", []string{"bug"})
	if _, err := b.Get(ctx, "2"); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("Get of an issue without the task label: err = %v, want ErrNotFound", err)
	}
}

// TestClaimConflict: two coords (two feeds, one repo) racing for one
// issue: the earlier claim comment counts, the other backs off and
// withdraws its comment.
func TestClaimConflict(t *testing.T) {
	f := githubtest.New(t)
	remotetest.TwoCoordRace(t, newBackend(t, f, time.Now, "one"), newBackend(t, f, time.Now, "two"), 5)
}

// TestRateLimit: primary (403, X-RateLimit-Remaining: 0), secondary (403
// with Retry-After) and 429 are temporary, with the service's hint.
func TestRateLimit(t *testing.T) {
	for _, tc := range []struct {
		kind     string
		min, max time.Duration
	}{
		{"primary", time.Second, 3 * time.Second},
		{"secondary", 7 * time.Second, 7 * time.Second},
		{"429", 11 * time.Second, 11 * time.Second},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			f := githubtest.New(t)
			b := newBackend(t, f, time.Now, "a")
			f.RateLimit(1, tc.kind)
			_, err := b.List(t.Context(), backend.Filter{})
			ra, ok := backend.IsTemporary(err)
			if !ok || ra < tc.min || ra > tc.max {
				t.Fatalf("List under a %s rate limit: err = %v, retry after %v; want temporary with %v..%v", tc.kind, err, ra, tc.min, tc.max)
			}
		})
	}
}

// TestWatchPoll: a person's new issue and comment reach the feed through
// the conditional poll; unchanged polls are 304s.
func TestWatchPoll(t *testing.T) {
	f := githubtest.New(t)
	b := newBackend(t, f, time.Now, "a")
	ctx := t.Context()
	task, err := b.Create(ctx, backend.NewTask{Title: "existing", Author: alice})
	if err != nil {
		t.Fatal(err)
	}
	_, cur, err := b.Changes(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	changed := make(chan struct{}, 16)
	done := make(chan error, 1)
	wctx, stop := context.WithCancel(ctx)
	defer func() { stop(); <-done }()
	go func() { done <- b.Watch(wctx, func() { changed <- struct{}{} }) }()
	remotetest.WaitFor(t, func() bool { return f.Stats().NotModified >= 2 })
	f.AddIssue(githubtest.Alice, "for:dev write the changelog", "for 1.2", []string{"clem"})
	f.AddComment(f.Issue(1), githubtest.Alice, "also bump the version")
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not report the person's issue")
	}
	evs, _, err := b.Changes(ctx, cur)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, string(e.Kind))
		switch e.Kind {
		case backend.TaskCreated:
			if e.Task.Title != "write the changelog" || e.Task.To != "dev" || e.Task.Author.Name != "alice" {
				t.Errorf("task_created = %+v", e.Task)
			}
		case backend.CommentAdded:
			if e.Comment.Body != "also bump the version" || e.Task.ID != task.ID {
				t.Errorf("comment_added = %+v on %s", e.Comment, e.Task.ID)
			}
		}
	}
	if strings.Join(kinds, ",") != "task_created,comment_added" && strings.Join(kinds, ",") != "comment_added,task_created" {
		t.Fatalf("events = %v, want the new task and the comment", kinds)
	}
}

// TestAlert: one open issue per subject; resolved closes it.
func TestAlert(t *testing.T) {
	f := githubtest.New(t)
	b := newBackend(t, f, time.Now, "a")
	ctx := t.Context()
	wd := backend.Author{Kind: backend.System, Name: "watchdog"}
	for _, sev := range []backend.Severity{backend.Critical, backend.Warning, backend.Resolved} {
		if _, err := b.Alert(ctx, backend.NewAlert{Author: wd, Severity: sev, Subject: "lead", Body: string(sev)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.NumIssues(); n != 1 {
		t.Fatalf("%d issues, want one alert issue", n)
	}
	is := f.Issue(1)
	if is.Title != "clem alert: lead" || !githubtest.HasAll(is.Labels, []string{"clem-alert"}) || len(is.Comments) != 2 || is.State != "closed" {
		t.Errorf("alert issue = %+v, want titled for lead, labelled, two comments, closed", is)
	}
}

// TestOutageBetweenRequests: an outage that begins right after an update's
// record or a resolution's comment was posted does not fail the report
// (coord's outbox would post it a second time); it is there once. The
// control is the same outage before the post: then the report fails,
// temporarily, and nothing is posted.
func TestOutageBetweenRequests(t *testing.T) {
	count := func(f *githubtest.Fake, text string) int {
		n := 0
		for _, c := range f.Comments() {
			if strings.Contains(c.Body, text) {
				n++
			}
		}
		return n
	}
	t.Run("update", func(t *testing.T) {
		f := githubtest.New(t)
		b := newBackend(t, f, time.Now, "a")
		ctx := t.Context()
		task, err := b.Create(ctx, backend.NewTask{Title: "t", To: "dev", Author: alice})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Claim(ctx, task.ID, "dev", time.Hour); err != nil {
			t.Fatal(err)
		}
		f.SetOutage(githubtest.Unavailable)
		_, err = b.Update(ctx, task.ID, "dev", backend.InProgress, "control", time.Hour)
		if _, temp := backend.IsTemporary(err); !temp || count(f, "control") != 0 {
			t.Fatalf("Update with the service down: %v and %d posts, want a temporary error and none", err, count(f, "control"))
		}
		f.SetOutage(githubtest.Up)
		f.DownAfter("POST", "/comments")
		got, err := b.Update(ctx, task.ID, "dev", backend.InProgress, "on it", time.Hour)
		if err != nil || got.State != backend.InProgress || got.Holder != "dev" {
			t.Fatalf("Update with the service down after its post = %+v, %v; want in_progress by dev, no error", got, err)
		}
		if n := count(f, "on it"); n != 1 {
			t.Fatalf("the update was posted %d times, want once", n)
		}
		f.SetOutage(githubtest.Up)
		if got, err := b.Get(ctx, task.ID); err != nil || got.State != backend.InProgress {
			t.Fatalf("after the outage the task reads %+v, %v; want in_progress", got, err)
		}
	})
	t.Run("resolved alert", func(t *testing.T) {
		f := githubtest.New(t)
		b := newBackend(t, f, time.Now, "a")
		ctx := t.Context()
		wd := backend.Author{Kind: backend.System, Name: "watchdog"}
		if _, err := b.Alert(ctx, backend.NewAlert{Author: wd, Severity: backend.Critical, Subject: "lead", Body: "down"}); err != nil {
			t.Fatal(err)
		}
		f.DownAfter("POST", "/comments")
		if _, err := b.Alert(ctx, backend.NewAlert{Author: wd, Severity: backend.Resolved, Subject: "lead", Body: "back"}); err != nil {
			t.Fatalf("a resolution posted before the outage = %v, want no error", err)
		}
		if n := count(f, "back"); n != 1 {
			t.Fatalf("the resolution was posted %d times, want once", n)
		}
	})
}
