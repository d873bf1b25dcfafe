package core

import (
	"strings"
	"testing"

	"github.com/clemhq/clem/coord/internal/backend"
	"github.com/clemhq/clem/shared/coordapi"
)

// TestInboxItemCursors: an operator's message behind four 32 KiB posts
// from another agent. Acking the cursor of the last item a reader used
// consumes exactly those items; the operator's message comes with the next
// read, in order, and nothing is skipped.
func TestInboxItemCursors(t *testing.T) {
	c, _ := newCore(t)
	ctx := t.Context()
	b := backend.Author{Kind: backend.AgentAuthor, Name: "b"}
	big := strings.Repeat("x", coordapi.MaxText)
	for range 4 {
		if _, err := c.Post(ctx, b, "a", big); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Post(ctx, alice, "a", "stop and rebase first"); err != nil {
		t.Fatal(err)
	}
	items, all, err := c.Inbox(ctx, "a")
	if err != nil || len(items) != 5 {
		t.Fatalf("Inbox = %d items, %v; want 5", len(items), err)
	}
	for i, it := range items {
		if it.Cursor == "" {
			t.Fatalf("item %d has no cursor", i)
		}
	}
	if items[4].Cursor != all {
		t.Errorf("last item's cursor %q, the inbox's %q: want the same", items[4].Cursor, all)
	}
	// A reader that carried two items acks the second.
	if err := c.Ack("a", items[1].Cursor); err != nil {
		t.Fatal(err)
	}
	rest, _, err := c.Inbox(ctx, "a")
	if err != nil || len(rest) != 3 {
		t.Fatalf("after acking 2 of 5: %d items, %v; want 3", len(rest), err)
	}
	if m := rest[2].Message; m == nil || m.Body != "stop and rebase first" || !rest[2].Trusted {
		t.Errorf("last item = %+v, want alice's message, trusted", rest[2])
	}
	// Control: the whole cursor (what the runner used to ack) loses it.
	if err := c.Ack("a", all); err != nil {
		t.Fatal(err)
	}
	if left, _, _ := c.Inbox(ctx, "a"); len(left) != 0 {
		t.Errorf("after acking the inbox's cursor: %d items, want 0", len(left))
	}
}

// TestInboxBounded: a flood of posts does not make one inbox answer (or
// one read_inbox) unbounded; the cut answer's cursor is its last item's, so
// the rest comes with the next read and nothing is lost.
func TestInboxBounded(t *testing.T) {
	c, _ := newCore(t)
	ctx := t.Context()
	b := backend.Author{Kind: backend.AgentAuthor, Name: "b"}
	big := strings.Repeat("y", coordapi.MaxText)
	const n = 20
	for range n {
		if _, err := c.Post(ctx, b, "a", big); err != nil {
			t.Fatal(err)
		}
	}
	seen := 0
	for reads := 0; seen < n; reads++ {
		if reads > n {
			t.Fatalf("after %d reads only %d of %d items", reads, seen, n)
		}
		items, cur, err := c.Inbox(ctx, "a")
		if err != nil || len(items) == 0 {
			t.Fatalf("read %d: %d items, %v", reads, len(items), err)
		}
		size := 0
		for _, it := range items {
			size += len(it.Text)
		}
		if size > coordapi.MaxInboxBytes {
			t.Fatalf("read %d: %d bytes of text, over %d", reads, size, coordapi.MaxInboxBytes)
		}
		if cur != items[len(items)-1].Cursor {
			t.Fatalf("read %d: cursor %q is not the last item's %q", reads, cur, items[len(items)-1].Cursor)
		}
		seen += len(items)
		c.Ack("a", cur)
	}
	if seen != n {
		t.Errorf("read %d items, want %d", seen, n)
	}

	// read_inbox: bounded the same way, says more is waiting, loses nothing.
	for range 3 {
		c.Post(ctx, b, "a", big)
	}
	got, more, err := c.ReadInbox(ctx, "a", 40<<10)
	if err != nil || len(got) != 1 || !more {
		t.Fatalf("ReadInbox(40 KiB) = %d items, more %v, %v; want 1 and more", len(got), more, err)
	}
	got, more, _ = c.ReadInbox(ctx, "a", 1<<20)
	if len(got) != 2 || more {
		t.Errorf("next ReadInbox = %d items, more %v; want the other 2, no more", len(got), more)
	}
}
