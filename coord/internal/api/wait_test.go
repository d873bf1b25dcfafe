package api

import (
	"testing"
	"time"
)

var waitCases = []struct {
	in   string
	want time.Duration
	ok   bool
}{
	{"", time.Minute, true}, {"1s", time.Second, true}, {"300s", 300 * time.Second, true},
	{"5m1s", 0, false}, {"0s", 0, false}, {"-1s", 0, false}, {"soon", 0, false}, {"500ms", 0, false},
}

func TestParseWait(t *testing.T) {
	for _, tc := range waitCases {
		got, err := ParseWait(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseWait(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzParseWait(f *testing.F) {
	for _, tc := range waitCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := ParseWait(s); err == nil && (d < time.Second || d > 300*time.Second) {
			t.Fatalf("ParseWait(%q) = %v", s, d)
		}
	})
}
