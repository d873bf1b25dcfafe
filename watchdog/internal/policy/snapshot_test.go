package policy

import (
	"encoding/json"
	"testing"
	"time"
)

// TestRestoreAcrossRestart: a policy's state, saved (through JSON, as the
// state file holds it) and restored into a new policy, goes on as if the
// watchdog had not restarted. The control in each row is a fresh policy
// (the watchdog before the state file): it alerts again, and it never
// sends the recovery of an alert it did not send.
func TestRestoreAcrossRestart(t *testing.T) {
	const iv = 15 * time.Second
	cases := []struct {
		name            string
		failures        int
		before, after   string // patterns, as in TestPolicy
		want, wantFresh string // notices of the after pattern
	}{
		{"still bad: the same episode, no second alert", 3, "xxx", "xxxx", "----", "--A-"},
		{"recovers after the restart: the recovery is sent once", 3, "xxx", "....", "--R-", "----"},
		{"half recovered before the restart", 3, "xxx..", "..", "R-", "--"},
		{"bad checks before the restart count", 3, "xx", "x", "A", "-"},
		{"the cooldown continues from the alert before the restart", 2, "xx..", "xxx", "S--", "-A-"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			p := New(tt.failures, 30*time.Minute, time.Hour)
			c := &clock{now: t0}
			run(p, c, iv, tt.before, restarting)
			data, err := json.Marshal(p.Snapshot())
			if err != nil {
				t.Fatal(err)
			}
			var snap map[string]map[string]Track
			if err := json.Unmarshal(data, &snap); err != nil {
				t.Fatal(err)
			}
			restored := New(tt.failures, 30*time.Minute, time.Hour)
			restored.Restore(snap)
			at := *c
			if got := kinds(run(restored, c, iv, tt.after, restarting), len(tt.after)); got != tt.want {
				t.Errorf("restored: %s then %s: notices %s, want %s", tt.before, tt.after, got, tt.want)
			}
			fresh := New(tt.failures, 30*time.Minute, time.Hour)
			if got := kinds(run(fresh, &at, iv, tt.after, restarting), len(tt.after)); got != tt.wantFresh {
				t.Errorf("control, a fresh policy: %s: notices %s, want %s", tt.after, got, tt.wantFresh)
			}
		})
	}
}

// TestRestoredCooldownEnds: the cooldown restored from the file ends an
// hour after the alert before the restart, not an hour after the restart.
func TestRestoredCooldownEnds(t *testing.T) {
	p := New(2, 30*time.Minute, time.Hour)
	c := &clock{now: t0}
	if got := kinds(run(p, c, 15*time.Second, "xx..", failed), 4); got != "-A-R" {
		t.Fatalf("first episode: %s", got)
	}
	restored := New(2, 30*time.Minute, time.Hour)
	restored.Restore(p.Snapshot())
	n := restored.Observe(c.tick(15*time.Second), "agent lead", label, failed)
	if len(n) != 1 || n[0].Kind != Suppressed || !n[0].Until.Equal(t0.Add(30*time.Second+time.Hour)) {
		t.Fatalf("within the restored cooldown: %+v, want suppressed until an hour after the first alert", n)
	}
	c.now = t0.Add(time.Hour + time.Minute)
	restored.Observe(c.now, "agent lead", label, failed)
	if n := restored.Observe(c.tick(15*time.Second), "agent lead", label, failed); len(n) != 1 || n[0].Kind != Alert {
		t.Fatalf("after the restored cooldown: %+v, want an alert", n)
	}
}

// TestSnapshotIsACopy: the state saved is not changed by later rounds, nor
// the restored state by changes to the snapshot.
func TestSnapshotIsACopy(t *testing.T) {
	p := New(3, 30*time.Minute, time.Hour)
	c := &clock{now: t0}
	run(p, c, 15*time.Second, "xx", restarting)
	snap := p.Snapshot()
	run(p, c, 15*time.Second, "x", restarting)
	if tr := snap["agent lead"]["restarting"]; len(tr.Bad) != 2 || tr.Alerting {
		t.Errorf("snapshot changed by a later round: %+v", tr)
	}
	r := New(3, 30*time.Minute, time.Hour)
	r.Restore(snap)
	snap["agent lead"]["restarting"].Bad[0] = time.Time{}
	if got := kinds(run(r, c, 15*time.Second, "x", restarting), 1); got != "A" {
		t.Errorf("restored state changed through the snapshot: %s, want A", got)
	}
}
