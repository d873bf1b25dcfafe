package notifysock

import (
	"reflect"
	"testing"

	"github.com/clemhq/clem/shared/sdnotify"
)

// TestPendingHasEverythingSent: what was sent before Pending is all
// there, in order, and nothing after it is waited for.
func TestPendingHasEverythingSent(t *testing.T) {
	s := Listen(t, 0)
	want := []string{"READY=1", "STATUS=one", "STATUS=two"}
	for _, m := range want {
		if err := sdnotify.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Pending(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Pending = %q, want %q", got, want)
	}
	if got := s.Pending(); len(got) != 0 {
		t.Fatalf("Pending again = %q, want nothing", got)
	}
	sdnotify.Send("STOPPING=1")
	if before := s.UntilPrefix("STOPPING"); len(before) != 0 {
		t.Fatalf("before STOPPING: %q", before)
	}
}
