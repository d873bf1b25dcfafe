package audit

import (
	"encoding/hex"
	"sync"
	"testing"
)

func TestNewConnID(t *testing.T) {
	const goroutines, each = 8, 10000
	ids := make([][]string, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range each {
				ids[g] = append(ids[g], NewConnID())
			}
		})
	}
	wg.Wait()
	seen := make(map[string]bool, goroutines*each)
	for _, list := range ids {
		for i, id := range list {
			if _, err := hex.DecodeString(id); err != nil || len(id) != 32 {
				t.Fatalf("NewConnID() = %q, want 32 hex digits", id)
			}
			if seen[id] {
				t.Fatalf("NewConnID() returned %q twice", id)
			}
			seen[id] = true
			if i > 0 && id[:16] < list[i-1][:16] {
				t.Errorf("NewConnID() = %q after %q: time prefix went backwards", id, list[i-1])
			}
		}
	}
}

func BenchmarkNewConnID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = NewConnID()
	}
}
