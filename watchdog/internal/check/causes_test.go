package check

import "testing"

// TestPossible: every cause with a title is possible for some shape (a
// cause the table forgot would lose its saved alert state at every
// restart), and the config-dependent ones only with their config.
func TestPossible(t *testing.T) {
	shapes := []Shape{{Agent: true}, {}, {Health: true}, {Egress: true}, {Health: true, Egress: true}}
	for cause := range causeTitles {
		ok := false
		for _, s := range shapes {
			ok = ok || Possible(cause, s)
		}
		if !ok {
			t.Errorf("cause %q is possible for no subject", cause)
		}
	}
	cases := []struct {
		cause string
		shape Shape
		want  bool
	}{
		{CauseFailed, Shape{Agent: true}, true},
		{CauseFailed, Shape{}, true},
		{CauseStalled, Shape{Agent: true}, true},
		{CauseStalled, Shape{}, false},
		{KindEgress, Shape{Agent: true}, true},
		{KindEgress, Shape{Egress: true}, false},
		{KindStartPre, Shape{}, true},
		{KindStartPre, Shape{Agent: true}, false},
		{KindHealth, Shape{Health: true}, true},
		{KindHealth, Shape{}, false},
		{KindHealth, Shape{Agent: true}, false},
		{KindEgressTampered, Shape{Egress: true}, true},
		{KindEgressStale, Shape{Health: true}, false},
		{KindEgressFailed, Shape{Agent: true}, false},
		{"no-such-cause", Shape{Agent: true, Health: true, Egress: true}, false},
	}
	for _, c := range cases {
		if got := Possible(c.cause, c.shape); got != c.want {
			t.Errorf("Possible(%q, %+v) = %v, want %v", c.cause, c.shape, got, c.want)
		}
	}
}
