package connlimit

import (
	"errors"
	"sync"
	"testing"
)

func TestPerKeyCapLeavesOthersRoom(t *testing.T) {
	l := New(2, 10)
	for i := 0; i < 2; i++ {
		if _, err := l.Acquire(1000); err != nil {
			t.Fatalf("Acquire(1000) #%d: %v", i+1, err)
		}
	}
	_, err := l.Acquire(1000)
	var le *Error
	if !errors.As(err, &le) || le.Total || le.Key != 1000 || le.Limit != 2 {
		t.Fatalf("third Acquire(1000) = %v, want the per-uid cap of 2", err)
	}
	rel, err := l.Acquire(1001)
	if err != nil {
		t.Fatalf("Acquire(1001) while 1000 is at its cap: %v", err)
	}
	rel()
	rel() // twice is harmless
	if got := l.Held(1001); got != 0 {
		t.Errorf("Held(1001) after release = %d, want 0", got)
	}
	if got := l.Refused(1000); got != 1 {
		t.Errorf("Refused(1000) = %d, want 1", got)
	}
}

func TestTotalCap(t *testing.T) {
	l := New(0, 3)
	var rels []func()
	for k := uint32(1); k <= 3; k++ {
		r, err := l.Acquire(k)
		if err != nil {
			t.Fatalf("Acquire(%d): %v", k, err)
		}
		rels = append(rels, r)
	}
	_, err := l.Acquire(4)
	var le *Error
	if !errors.As(err, &le) || !le.Total {
		t.Fatalf("Acquire over the total = %v, want the total cap", err)
	}
	rels[0]()
	if _, err := l.Acquire(4); err != nil {
		t.Fatalf("Acquire after a release: %v", err)
	}
	if got := l.Total(); got != 3 {
		t.Errorf("Total() = %d, want 3", got)
	}
}

func TestSetLimitsLowersCap(t *testing.T) {
	l := New(5, 0)
	for i := 0; i < 3; i++ {
		l.Acquire(7)
	}
	l.SetLimits(2, 0)
	if _, err := l.Acquire(7); err == nil {
		t.Fatal("Acquire above a lowered cap succeeded")
	}
}

func TestConcurrentNeverExceeds(t *testing.T) {
	l := New(4, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	max := 0
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				rel, err := l.Acquire(1)
				if err != nil {
					continue
				}
				mu.Lock()
				if h := l.Held(1); h > max {
					max = h
				}
				mu.Unlock()
				rel()
			}
		}()
	}
	wg.Wait()
	if max > 4 || max == 0 {
		t.Errorf("most held at once = %d, want 1..4", max)
	}
	if l.Total() != 0 {
		t.Errorf("Total() after all released = %d", l.Total())
	}
}
