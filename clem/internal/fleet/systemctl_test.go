package fleet

import "testing"

func TestParseShow(t *testing.T) {
	out := "Id=clem-p-agent-lead.service\nLoadState=loaded\nActiveState=active\nSubState=running\nResult=success\nNRestarts=2\n\n" +
		"Id=clem-p-pipelock.service\nLoadState=loaded\nActiveState=failed\nSubState=failed\nResult=exit-code\nNRestarts=0\n"
	got := parseShow([]byte(out))
	want := map[string]UnitState{
		"clem-p-agent-lead.service": {Unit: "clem-p-agent-lead.service", LoadState: "loaded", Active: "active", Sub: "running", Result: "success", Restarts: 2},
		"clem-p-pipelock.service":   {Unit: "clem-p-pipelock.service", LoadState: "loaded", Active: "failed", Sub: "failed", Result: "exit-code"},
	}
	if len(got) != len(want) {
		t.Fatalf("parseShow = %d units, want %d: %+v", len(got), len(want), got)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("parseShow[%s] = %+v, want %+v", k, got[k], w)
		}
	}
}
