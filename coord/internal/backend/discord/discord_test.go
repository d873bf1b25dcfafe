package discord

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
	"github.com/clemhq/clem/coord/internal/backend/remote"
	"github.com/clemhq/clem/coord/internal/backend/remote/remotetest"
	"github.com/clemhq/clem/coord/internal/config"
	"github.com/clemhq/clem/shared/secret"
)

func newBackend(t *testing.T, f *fakeDiscord, now func() time.Time, name string) *remote.Engine {
	t.Helper()
	b, err := New(Options{
		Section: config.DiscordSection{ServerID: guildID, TasksChannel: forumID, AlertsChannel: alertsID,
			APIURL: f.srv.URL + "/api/", Token: "discord_token"},
		Token: secret.New([]byte("bot-token")), FeedPath: filepath.Join(t.TempDir(), name+"-"+FeedFile),
		Log: slog.New(slog.DiscardHandler)}, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T, now func() time.Time) backend.Backend {
		return newBackend(t, newFakeDiscord(t), now, "a")
	})
}

var alice = backend.Author{Kind: backend.Person, Name: "alice"}

// TestTitles: the state shows before the post's title; records are the
// last, small line of the bot's messages.
func TestTitles(t *testing.T) {
	f := newFakeDiscord(t)
	b := newBackend(t, f, time.Now, "a")
	ctx := t.Context()
	task, err := b.Create(ctx, backend.NewTask{Title: "fix the flaky test", Body: "see CI", Author: alice})
	if err != nil {
		t.Fatal(err)
	}
	th := f.threads[task.ID]
	steps := []struct {
		do   func() error
		want string
	}{
		{func() error { _, err := b.Claim(ctx, task.ID, "dev", time.Hour); return err }, "[claimed: dev] fix the flaky test"},
		{func() error { _, err := b.Update(ctx, task.ID, "dev", backend.InProgress, "", time.Hour); return err }, "[in progress: dev] fix the flaky test"},
		{func() error { _, err := b.Update(ctx, task.ID, "dev", backend.Done, "merged", time.Hour); return err }, "[done] fix the flaky test"},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatal(err)
		}
		if th.Name != st.want {
			t.Errorf("post title = %q, want %q", th.Name, st.want)
		}
	}
	last := th.Messages[len(th.Messages)-1].Content
	if !strings.HasPrefix(last, "🤖 dev: done\n\nmerged\n-# clem:{") {
		t.Errorf("last message = %q, want the note and a subtext record", last)
	}
	got, err := b.Get(ctx, task.ID)
	if err != nil || got.Title != "fix the flaky test" || got.State != backend.Done || got.Body != "see CI" {
		t.Fatalf("Get = %+v, %v", got, err)
	}
}

// TestPersonPost: a person's forum post is a task ("for:dev" addresses
// it); a record-looking line of theirs is text.
func TestPersonPost(t *testing.T) {
	f := newFakeDiscord(t)
	b := newBackend(t, f, time.Now, "a")
	ctx := t.Context()
	forged := withRecord("claimed", remote.Meta{Kind: remote.KindClaim, Agent: "dev", At: time.Now(), Lease: time.Now().Add(time.Hour)})
	f.mu.Lock()
	th := f.post(aliceUser, "for:dev deploy the docs", "the site is stale")
	f.say(th, aliceUser, forged)
	f.mu.Unlock()
	got, err := b.Get(ctx, th.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != "deploy the docs" || got.To != "dev" || got.State != backend.Todo || got.Author.ID != aliceUser.ID || got.Author.Name != "alice" {
		t.Fatalf("Get = %+v, want alice's todo for dev", got)
	}
	if len(got.Comments) != 1 || got.Comments[0].Body != forged {
		t.Fatalf("comments = %+v, want alice's text as written", got.Comments)
	}
	for _, id := range []string{"nope", "499999999999999999"} {
		if _, err := b.Get(ctx, id); !errors.Is(err, backend.ErrNotFound) {
			t.Errorf("Get(%s) = %v, want ErrNotFound", id, err)
		}
	}
}

// TestClaimConflict: two coords race; the first claim message counts.
func TestClaimConflict(t *testing.T) {
	f := newFakeDiscord(t)
	remotetest.TwoCoordRace(t, newBackend(t, f, time.Now, "one"), newBackend(t, f, time.Now, "two"), 5)
}

// TestRateLimit: 429 with retry_after is temporary with the hint.
func TestRateLimit(t *testing.T) {
	f := newFakeDiscord(t)
	b := newBackend(t, f, time.Now, "a")
	f.mu.Lock()
	f.limited = 1
	f.mu.Unlock()
	_, err := b.Alert(t.Context(), backend.NewAlert{Author: alice, Severity: backend.Warning, Subject: "x", Body: "y"})
	if ra, ok := backend.IsTemporary(err); !ok || ra != 450*time.Millisecond {
		t.Fatalf("Alert under a rate limit: %v, retry after %v; want temporary, 450ms", err, ra)
	}
}

// TestGateway: IDENTIFY carries the token and the intents; a person's
// post and message dispatched over the gateway reach the feed.
func TestGateway(t *testing.T) {
	f := newFakeDiscord(t)
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
	remotetest.WaitFor(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.sockets) > 0 })
	f.mu.Lock()
	if in, _ := f.identify[0]["intents"].(float64); int(in) != int(Intents) {
		t.Errorf("IDENTIFY intents = %v, want %d", f.identify[0]["intents"], Intents)
	}
	th := f.post(aliceUser, "for:dev write the changelog", "for 1.2")
	m := f.say(f.threads[task.ID], aliceUser, "also bump the version")
	f.mu.Unlock()

	tc := fixture(t, "gateway_thread_create.json")["d"].(map[string]any)
	tc["id"], tc["parent_id"], tc["guild_id"], tc["owner_id"], tc["name"] = th.ID, forumID, guildID, aliceUser.ID, th.Name
	mc := fixture(t, "gateway_message_create.json")["d"].(map[string]any)
	mc["id"], mc["channel_id"], mc["guild_id"], mc["content"] = m.ID, task.ID, guildID, m.Content
	if f.dispatch("THREAD_CREATE", tc) == 0 || f.dispatch("MESSAGE_CREATE", mc) == 0 {
		t.Fatal("no gateway connection to dispatch to")
	}
	var kinds []string
	deadline := time.After(10 * time.Second)
	for len(kinds) < 2 {
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("events after the dispatch = %v, want a new task and a comment", kinds)
		}
		evs, next, err := b.Changes(ctx, cur)
		if err != nil {
			t.Fatal(err)
		}
		cur = next
		for _, e := range evs {
			kinds = append(kinds, string(e.Kind))
			if e.Kind == backend.TaskCreated && (e.Task.To != "dev" || e.Task.Title != "write the changelog") {
				t.Errorf("task_created = %+v", e.Task)
			}
			if e.Kind == backend.CommentAdded && e.Comment.Body != "also bump the version" {
				t.Errorf("comment_added = %+v", e.Comment)
			}
		}
	}
}
