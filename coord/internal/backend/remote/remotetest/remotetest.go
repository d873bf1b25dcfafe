// Package remotetest holds what the remote backends' tests share: the
// two-coord claim race, fixture loading and polling for a condition.
// Import it from tests of coord/internal/backend/{github,slack,discord}.
package remotetest

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/clemhq/clem/coord/internal/backend"
)

// TwoCoordRace creates races tasks through b1 and has agent a claim each
// through b1 while agent b claims it through b2 (two coords, one
// service): exactly one must win, the other get ErrConflict, and both
// must then read the same holder.
func TwoCoordRace(t *testing.T, b1, b2 backend.Backend, races int) {
	t.Helper()
	ctx := t.Context()
	for i := range races {
		task, err := b1.Create(ctx, backend.NewTask{Title: "race", Author: backend.Author{Kind: backend.Person, Name: "alice"}})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, b := range []backend.Backend{b1, b2} {
			wg.Add(1)
			go func() { defer wg.Done(); _, errs[j] = b.Claim(ctx, task.ID, []string{"a", "b"}[j], time.Hour) }()
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("race %d: errors %v, want exactly one winner", i, errs)
		}
		for _, err := range errs {
			if err != nil && !errors.Is(err, backend.ErrConflict) {
				t.Fatalf("race %d: loser's error %v, want ErrConflict", i, err)
			}
		}
		g1, err1 := b1.Get(ctx, task.ID)
		g2, err2 := b2.Get(ctx, task.ID)
		if err1 != nil || err2 != nil || g1.Holder == "" || g1.Holder != g2.Holder {
			t.Fatalf("race %d: the coords disagree: %q (%v) vs %q (%v)", i, g1.Holder, err1, g2.Holder, err2)
		}
	}
}

// Fixture reads testdata/name as a JSON object.
func Fixture(t testing.TB, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return m
}

// WaitFor polls cond until it holds, failing after 10s.
func WaitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
