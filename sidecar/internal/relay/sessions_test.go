package relay

import (
	"errors"
	"testing"
	"time"
)

// TestSessionTable: per-uid and total caps, DELETE and idle expiry giving
// places back, and an expired id being unknown.
func TestSessionTable(t *testing.T) {
	tb := newSessionTable()
	now := time.Unix(1_000_000, 0)
	tb.now = func() time.Time { return now }
	const idle = time.Minute
	open := func(uid uint32, id string) error {
		commit, err := tb.reserve(uid, 2, 3, idle)
		if err == nil {
			commit(id)
		}
		return err
	}
	for _, tc := range []struct {
		name      string
		uid       uint32
		id        string
		wantTotal bool
		wantErr   bool
	}{
		{"a first", 1, "a1", false, false},
		{"a second", 1, "a2", false, false},
		{"a over its cap", 1, "a3", false, true},
		{"b first", 2, "b1", false, false},
		{"c over the total", 3, "c1", true, true},
	} {
		err := open(tc.uid, tc.id)
		var ce *sessionCapError
		if tc.wantErr != (err != nil) || (err != nil && (!errors.As(err, &ce) || ce.total != tc.wantTotal)) {
			t.Errorf("%s: reserve = %v, want error %v (total %v)", tc.name, err, tc.wantErr, tc.wantTotal)
		}
	}
	if uid, ok := tb.owner("a1", idle); !ok || uid != 1 {
		t.Errorf("owner(a1) = %d, %v", uid, ok)
	}
	tb.forget("a1")
	if err := open(1, "a3"); err != nil {
		t.Errorf("after forgetting a1, uid 1 is still refused: %v", err)
	}
	// b1 is used just now; a2 and a3 then idle past the limit.
	now = now.Add(30 * time.Second)
	tb.owner("b1", idle)
	now = now.Add(45 * time.Second)
	if err := open(3, "c1"); err != nil {
		t.Errorf("with a2 and a3 idle past %s, uid 3 is refused: %v", idle, err)
	}
	if _, ok := tb.owner("a2", idle); ok {
		t.Error("an expired session is still known")
	}
	if uid, ok := tb.owner("b1", idle); !ok || uid != 2 {
		t.Errorf("a session used within the limit was dropped: %d, %v", uid, ok)
	}
	if tb.Held(1) != 0 || tb.Len() != 2 {
		t.Errorf("Held(1) = %d, Len = %d; want 0 and 2 (b1, c1)", tb.Held(1), tb.Len())
	}
	// A reservation given back with no id frees its place.
	commit, err := tb.reserve(2, 2, 3, idle)
	if err != nil {
		t.Fatal(err)
	}
	commit("")
	if tb.Held(2) != 1 {
		t.Errorf("Held(2) after an unused reservation = %d, want 1", tb.Held(2))
	}
}
