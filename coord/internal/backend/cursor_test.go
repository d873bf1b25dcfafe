package backend

import "testing"

func TestNumericCursorAfter(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"5", "3", true}, {"3", "5", false}, {"5", "5", false},
		{"10", "9", true}, // numbers, not strings
		{"1", "", true}, {"", "1", false}, {"x", "1", false}, {"1", "x", true},
	} {
		if got := NumericCursorAfter(tt.a, tt.b); got != tt.want {
			t.Errorf("NumericCursorAfter(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
