package systemd

import "testing"

func TestStartPreFailure(t *testing.T) {
	ok := Exec{Path: "/bin/true", Start: 100, Exit: 110, Code: cldExited}
	fail := Exec{Path: "/usr/local/bin/clem", Start: 120, Exit: 130, Code: cldExited, Status: 1}
	cases := []struct {
		name     string
		s        State
		want     bool
		wantPath string
	}{
		{"no steps", State{ExecMainStart: 50}, false, ""},
		{"passed, main ran after", State{StartPre: []Exec{ok}, ExecMainStart: 115}, false, ""},
		{"last step failed, main never ran", State{StartPre: []Exec{ok, fail}}, true, "/usr/local/bin/clem"},
		{"failed after an earlier main run", State{StartPre: []Exec{ok, fail}, ExecMainStart: 90}, true, "/usr/local/bin/clem"},
		{"failed long ago, main ran since", State{StartPre: []Exec{ok, fail}, ExecMainStart: 200}, false, ""},
		{"first step failed, second never ran", State{StartPre: []Exec{fail, {Path: "/bin/x"}}}, true, "/usr/local/bin/clem"},
		{"killed", State{StartPre: []Exec{{Path: "/bin/x", Start: 10, Exit: 20, Code: cldKilled, Status: 9}}}, true, "/bin/x"},
		{"still running", State{StartPre: []Exec{{Path: "/bin/x", Start: 10}}}, false, ""},
	}
	for _, tt := range cases {
		e, got := tt.s.StartPreFailure()
		if got != tt.want || e.Path != tt.wantPath {
			t.Errorf("%s: StartPreFailure() = %+v, %v; want %q, %v", tt.name, e, got, tt.wantPath, tt.want)
		}
	}
	if got := fail.Outcome(); got != "exited with status 1" {
		t.Errorf("Outcome() = %q", got)
	}
	if got := (State{ExecMainCode: cldKilled, ExecMainStatus: 9}).MainOutcome(); got != "was killed by signal 9" {
		t.Errorf("MainOutcome() = %q", got)
	}
}
