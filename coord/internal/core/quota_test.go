package core

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/clemhq/clem/coord/internal/backend"
	"github.com/clemhq/clem/shared/coordapi"
)

var agentA, agentB = backend.Author{Kind: backend.AgentAuthor, Name: "a"}, backend.Author{Kind: backend.AgentAuthor, Name: "b"}

func wantQuota(t *testing.T, what string, err error, rule string) {
	t.Helper()
	qe, ok := errors.AsType[*QuotaError](err)
	if !ok || !errors.Is(err, ErrQuota) || qe.Rule != rule {
		t.Errorf("%s = %v, want a quota refusal under %s", what, err, rule)
	}
}

// TestQuota: an agent over its limits is refused while another agent and
// the operator still write; the window frees it; a restart of coord does
// not reset what it used.
func TestQuota(t *testing.T) {
	c, _ := newCore(t)
	ctx := t.Context()
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	c.Config().Limits.WritesPerHour = 2
	c.Config().Limits.MaxTextBytes = 100
	c.Config().Limits.BytesPerHour = 150
	c.Config().Limits.BytesPerDay = 250

	for i := range 2 {
		if _, err := c.Post(ctx, agentA, "", "hi"); err != nil {
			t.Fatalf("a's post %d: %v", i+1, err)
		}
	}
	_, err := c.Post(ctx, agentA, "", "hi")
	wantQuota(t, "a's third post this hour", err, "limits.writes_per_hour")
	if err != nil && !strings.Contains(err.Error(), "more after 11:00 UTC") {
		t.Errorf("refusal %q does not say when it frees", err)
	}
	task, _ := c.AddTask(ctx, alice, coordapi.AddTaskRequest{Title: "t"})
	_, err = c.Comment(ctx, agentA, task.ID, "x")
	wantQuota(t, "a's comment, same allowance", err, "limits.writes_per_hour")
	if _, err := c.Post(ctx, agentB, "", "b is fine"); err != nil {
		t.Errorf("b's post while a is over quota: %v", err)
	}
	for range 5 {
		if _, err := c.Post(ctx, alice, "", "operators are not rationed"); err != nil {
			t.Errorf("operator's post: %v", err)
		}
	}
	_, err = c.Post(ctx, agentB, "", strings.Repeat("z", 101))
	wantQuota(t, "b's 101-byte post", err, "limits.max_text_bytes")

	// The next hour frees the count, not the day's bytes.
	now = now.Add(time.Hour)
	if _, err := c.Post(ctx, agentA, "", strings.Repeat("y", 100)); err != nil {
		t.Fatalf("a's post in the next hour: %v", err)
	}
	_, err = c.Post(ctx, agentA, "", strings.Repeat("y", 60))
	wantQuota(t, "a's 160th byte this hour", err, "limits.bytes_per_hour")
	now = now.Add(time.Hour)
	c.Post(ctx, agentA, "", strings.Repeat("y", 100))
	_, err = c.Post(ctx, agentA, "", strings.Repeat("y", 50))
	wantQuota(t, "a's 254th byte today", err, "limits.bytes_per_day")

	// A restart keeps the count.
	cfg, be := c.Config(), c.be
	c.Close()
	c2, err := New(cfg, be, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c2.Close() })
	_, err = c2.Post(ctx, agentA, "", strings.Repeat("y", 50))
	wantQuota(t, "a's post after a restart", err, "limits.bytes_per_day")
}

// TestOutboxBounded: while the backend is down an agent's reports queue
// up to limits.outbox_per_agent, then are refused; another agent's still
// queue, and coord's own alerts are always kept.
func TestOutboxBounded(t *testing.T) {
	c, f := newCore(t)
	ctx := t.Context()
	c.Config().Limits.OutboxPerAgent = 3
	c.Config().Limits.OutboxMax = 5
	f.down = 1 << 20
	task, _ := c.AddTask(ctx, alice, coordapi.AddTaskRequest{Title: "t"})
	for i := range 3 {
		if q, err := c.Comment(ctx, agentA, task.ID, "note"); err != nil || !q {
			t.Fatalf("a's comment %d while down = queued %v, %v", i+1, q, err)
		}
	}
	_, err := c.Comment(ctx, agentA, task.ID, "one more")
	wantQuota(t, "a's 4th queued report", err, "limits.outbox_per_agent")
	for i := range 2 {
		if q, err := c.Comment(ctx, agentB, task.ID, "b"); err != nil || !q {
			t.Fatalf("b's comment %d = queued %v, %v", i+1, q, err)
		}
	}
	_, err = c.Comment(ctx, agentB, task.ID, "b again")
	wantQuota(t, "b's report with the outbox full", err, "limits.outbox_max")
	if q, err := c.Alert(ctx, backend.Author{Kind: backend.System, Name: "watchdog"}, coordapi.AlertRequest{Severity: coordapi.Critical, Subject: "a", Body: "agent a failed"}); err != nil || !q {
		t.Errorf("watchdog alert with the agents' outbox full = queued %v, %v; want queued", q, err)
	}
	if n := len(c.Queued()); n != 6 {
		t.Errorf("%d reports queued, want 6", n)
	}
}
