package confine

import (
	"strings"
	"testing"
)

// TestApplyRefusesBadBlock: a block without a first port, or reversed, is
// an error before anything is restricted (port 0 must stay bindable).
func TestApplyRefusesBadBlock(t *testing.T) {
	for _, p := range []Ports{{0, 10}, {10, 5}} {
		if r, err := Apply(p); err == nil || r.Bind || r.Protocols {
			t.Errorf("Apply(%v) = %+v, %v; want an error and nothing enforced", p, r, err)
		}
	}
}

func TestReportWarning(t *testing.T) {
	ports := Ports{3128, 3159}
	for _, tc := range []struct {
		name string
		r    Report
		want string // "" = no warning
	}{
		{"enforced", Report{Ports: ports, Bind: true, Protocols: true}, ""},
		{"no landlock", Report{Ports: ports, Problems: []string{"this kernel has no Landlock"}},
			"ports 3128-3159 NOT protected from the agent: this kernel has no Landlock"},
		{"bind rule only", Report{Ports: ports, Bind: true, Problems: []string{"seccomp(2) refused"}},
			"ports 3128-3159 NOT protected from the agent: seccomp(2) refused"},
	} {
		got := tc.r.Warning()
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: Warning() = %q, want %q", tc.name, got, tc.want)
		}
	}
}
