package syncbuf

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
)

// TestConcurrentWriters: lines written from many goroutines all arrive
// whole (run with -race to see the lock matter).
func TestConcurrentWriters(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 100 {
				fmt.Fprintf(&b, "w%d-%d\n", i, j)
			}
		}()
	}
	wg.Wait()
	if n := len(b.Lines()); n != 800 {
		t.Fatalf("%d lines, want 800", n)
	}
	var c Buffer
	c.Write([]byte("one\ntwo\nthr"))
	if got := c.Lines(); !reflect.DeepEqual(got, []string{"one", "two"}) {
		t.Fatalf("Lines with a partial last line = %q", got)
	}
}
