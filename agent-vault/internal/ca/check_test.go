package ca

import (
	"strings"
	"testing"
	"time"
)

// TestCheck: a fresh CA passes its probe; the same CA a year and a day
// later fails it (its certificate has expired), and so does one whose
// clock is before its validity.
func TestCheck(t *testing.T) {
	for _, hosts := range [][]string{{"api.anthropic.com"}, {"*.example.com"}} {
		c, err := New(hosts, 365*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Check(); err != nil {
			t.Fatalf("Check() of a fresh CA for %v = %v, want nil", hosts, err)
		}
		for _, at := range []time.Time{time.Now().Add(366 * 24 * time.Hour), time.Now().Add(-48 * time.Hour)} {
			late, err := New(hosts, 365*24*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			late.now = func() time.Time { return at }
			if err := late.Check(); err == nil || !strings.Contains(err.Error(), "CA check") {
				t.Errorf("Check() at %v = %v, want a failure", at, err)
			}
		}
	}
}
