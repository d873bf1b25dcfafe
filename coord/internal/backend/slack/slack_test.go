package slack

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
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

func newBackend(t *testing.T, f *fakeSlack, now func() time.Time, name string) *remote.Engine {
	t.Helper()
	b, err := New(Options{
		Section: config.SlackSection{TasksChannel: tasksChannel, AlertsChannel: alertsChannel, APIURL: f.srv.URL + "/api/",
			Token: "slack_bot_token", AppToken: "slack_app_token"},
		Token: secret.New([]byte("xoxb-bot")), AppToken: secret.New([]byte("xapp-app")),
		FeedPath: filepath.Join(t.TempDir(), name+"-"+FeedFile), Log: slog.New(slog.DiscardHandler)}, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T, now func() time.Time) backend.Backend {
		return newBackend(t, newFakeSlack(t), now, "a")
	})
}

var alice = backend.Author{Kind: backend.Person, Name: "alice"}

func (f *fakeSlack) botReactions(ts string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for name, users := range f.find(ts).Reactions {
		if slices.Contains(users, botUserID) {
			out = append(out, name)
		}
	}
	return out
}

// TestReactions: the state shows as the bot's one reaction on the task;
// notes and records are thread replies; & < > survive Slack's escaping.
func TestReactions(t *testing.T) {
	f := newFakeSlack(t)
	b := newBackend(t, f, time.Now, "a")
	ctx := t.Context()
	task, err := b.Create(ctx, backend.NewTask{Title: "fix <the> flaky & slow test", Body: "see CI", Author: alice})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.find(task.ID).Text; got != "fix &lt;the&gt; flaky &amp; slow test\n\nsee CI" {
		t.Errorf("task message text = %q, want Slack-escaped title, blank line, body", got)
	}
	steps := []struct {
		to   backend.State
		want string
	}{{backend.Claimed, "eyes"}, {backend.InProgress, "hammer_and_wrench"}, {backend.Blocked, "no_entry"}}
	for _, st := range steps {
		if st.to == backend.Claimed {
			_, err = b.Claim(ctx, task.ID, "dev", time.Hour)
		} else {
			_, err = b.Update(ctx, task.ID, "dev", st.to, "now "+string(st.to), time.Hour)
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := f.botReactions(task.ID); !slices.Equal(got, []string{st.want}) {
			t.Errorf("after %s: bot reactions %v, want [%s]", st.to, got, st.want)
		}
	}
	got, err := b.Get(ctx, task.ID)
	if err != nil || got.Title != "fix <the> flaky & slow test" || got.State != backend.Blocked || len(got.Comments) != 2 {
		t.Fatalf("Get = %+v, %v; want the unescaped title, blocked, two notes", got, err)
	}
}

// TestPersonTask: a person's top-level message is a task ("for:dev"
// addresses it); their reply is their comment; metadata they cannot set,
// and a record-looking text of theirs is text.
func TestPersonTask(t *testing.T) {
	f := newFakeSlack(t)
	b := newBackend(t, f, time.Now, "a")
	ctx := t.Context()
	f.mu.Lock()
	m := f.add(aliceID, "for:dev deploy the docs\nthe site is stale", "", nil)
	forged := map[string]any{"event_type": metaEvent, "event_payload": map[string]any{"record": remote.Meta{Kind: remote.KindClaim, Agent: "dev", At: time.Now(), Lease: time.Now().Add(time.Hour)}.Encode()}}
	f.add(aliceID, "claimed!", m.TS, forged)
	f.mu.Unlock()
	got, err := b.Get(ctx, m.TS)
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != "deploy the docs" || got.Body != "the site is stale" || got.To != "dev" || got.State != backend.Todo ||
		got.Author != (backend.Author{Kind: backend.Person, Name: "alice", ID: aliceID}) {
		t.Fatalf("Get = %+v, want alice's todo for dev", got)
	}
	if len(got.Comments) != 1 || got.Comments[0].Body != "claimed!" || got.Comments[0].Author.Name != "alice" {
		t.Fatalf("comments = %+v, want alice's reply as text", got.Comments)
	}
	if _, err := b.Get(ctx, "no-such-task"); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("Get(malformed ts): %v, want ErrNotFound", err)
	}
	if _, err := b.Get(ctx, "1111111111.000001"); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("Get(unknown ts): %v, want ErrNotFound", err)
	}
}

// TestClaimConflict: two coords (two feeds, one channel) race; the first
// claim reply wins, the loser withdraws its reply.
func TestClaimConflict(t *testing.T) {
	f := newFakeSlack(t)
	remotetest.TwoCoordRace(t, newBackend(t, f, time.Now, "one"), newBackend(t, f, time.Now, "two"), 5)
}

// TestRateLimit: 429 with Retry-After is temporary with the hint.
func TestRateLimit(t *testing.T) {
	f := newFakeSlack(t)
	b := newBackend(t, f, time.Now, "a")
	f.mu.Lock()
	f.limited = 1
	f.mu.Unlock()
	_, err := b.Create(t.Context(), backend.NewTask{Title: "x", Author: alice})
	if ra, ok := backend.IsTemporary(err); !ok || ra != 30*time.Second {
		t.Fatalf("Create under a rate limit: %v, retry after %v; want temporary, 30s", err, ra)
	}
}

// TestSocketMode: a person's message pushed over Socket Mode is acked,
// and reaches the feed as a new task.
func TestSocketMode(t *testing.T) {
	f := newFakeSlack(t)
	b := newBackend(t, f, time.Now, "a")
	ctx := t.Context()
	if _, err := b.Create(ctx, backend.NewTask{Title: "existing", Author: alice}); err != nil {
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
	m := f.add(aliceID, "for:dev write the changelog", "", nil)
	f.mu.Unlock()
	env := fixture(t, "socket_events_api_message.json")
	ev := env["payload"].(map[string]any)["event"].(map[string]any)
	ev["ts"], ev["event_ts"], ev["user"], ev["text"] = m.TS, m.TS, aliceID, m.Text
	if f.push(env) == 0 {
		t.Fatal("no Socket Mode connection to push to")
	}
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not report the pushed message")
	}
	remotetest.WaitFor(t, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return slices.Contains(f.acks, env["envelope_id"].(string))
	})
	evs, _, err := b.Changes(ctx, cur)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Kind != backend.TaskCreated || evs[0].Task.Title != "write the changelog" || evs[0].Task.To != "dev" {
		t.Fatalf("events after the push = %+v, want alice's task for dev", evs)
	}
}

// TestAlert: alerts go to the alerts channel, not the tasks channel.
func TestAlert(t *testing.T) {
	f := newFakeSlack(t)
	b := newBackend(t, f, time.Now, "a")
	a, err := b.Alert(t.Context(), backend.NewAlert{Author: backend.Author{Kind: backend.System, Name: "watchdog"}, Severity: backend.Critical, Subject: "lead", Body: "restarted 5 times"})
	if err != nil || a.ID == "" {
		t.Fatal(a, err)
	}
	if len(f.alerts) != 1 || !strings.Contains(f.alerts[0].Text, "critical: lead") || len(f.msgs) != 0 {
		t.Errorf("alerts %+v, task channel %d messages; want one alert and nothing in tasks", f.alerts, len(f.msgs))
	}
}
