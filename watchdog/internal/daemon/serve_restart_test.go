package daemon

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/clemhq/clem/shared/coordapi"
	"github.com/clemhq/clem/watchdog/internal/coordtest"
)

// TestServeRestartKeepsAlertState runs the watchdog three times on the
// same directory, as systemd restarts it. First pipelock fails while
// coord is down: the alert waits. Then, coord up, pipelock still failed:
// the waiting alert is delivered (the same id) and none is raised again.
// Then pipelock runs again: its recovery is sent, once. The control runs
// the same without state_file: the second run raises the alert anew, and
// the third never sends a recovery.
func TestServeRestartKeepsAlertState(t *testing.T) {
	for _, keep := range []bool{true, false} {
		t.Run(map[bool]string{true: "state file", false: "control: no state file"}[keep], func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			top := ""
			if keep {
				top = "state_file = \"" + filepath.Join(dir, "state.json") + "\"\n"
			}
			coord := &coordtest.Alerts{Path: filepath.Join(dir, "coord.sock")}
			failed := func(u *fakeUnits) {
				st := u.units[pipeUnit]
				st.ActiveState, st.SubState, st.Result, st.MainPID = "failed", "failed", "exit-code", 0
				u.units[pipeUnit] = st
			}

			// 1: coord down; the alert waits.
			s := startServedIn(t, dir, top, failed, coord)
			s.units.waitReads(t, pipeUnit, 2) // the second round starts after the first ended
			if err := s.stop(); err != nil {
				t.Fatalf("first run: Serve = %v", err)
			}
			raised := jsonField(s.logs.String(), `"msg":"alert","subject":"daemon pipelock"`, "id")
			if raised == "" {
				t.Fatalf("first run raised no alert:\n%s", s.logs)
			}
			if keep && !strings.Contains(s.logs.String(), "they are in this journal and the state file, sent after the restart") {
				t.Errorf("the stop does not say the waiting alert is kept:\n%s", s.logs)
			}

			// 2: coord up, pipelock still failed.
			coord.Start(t)
			s = startServedIn(t, dir, top, failed, coord)
			coord.Wait(t, 1)
			s.units.waitReads(t, pipeUnit, 2)
			if err := s.stop(); err != nil {
				t.Fatalf("second run: Serve = %v", err)
			}
			if got := coord.Got(); len(got) != 1 || got[0].Subject != "daemon pipelock" || got[0].Severity != coordapi.Critical {
				t.Fatalf("second run: coord got %+v, want pipelock's one alert", got)
			}
			delivered := jsonField(s.logs.String(), `"msg":"alert delivered to coord"`, "id")
			if keep != (delivered == raised) {
				t.Errorf("delivered id %q, raised in the first run %q (state file %v)", delivered, raised, keep)
			}
			if n := strings.Count(s.logs.String(), `"msg":"alert","subject":"daemon pipelock"`); n != map[bool]int{true: 0, false: 1}[keep] {
				t.Errorf("second run raised %d alerts for pipelock (state file %v):\n%s", n, keep, s.logs)
			}

			// 3: pipelock runs again.
			s = startServedIn(t, dir, top, nil, coord)
			if keep {
				got := coord.Wait(t, 2)
				if got[1].Severity != coordapi.Resolved || got[1].Subject != "daemon pipelock" {
					t.Errorf("third run: %+v, want pipelock's recovery", got)
				}
			}
			s.units.waitReads(t, pipeUnit, 4) // 3 good rounds ended: a recovery would have been sent
			if err := s.stop(); err != nil {
				t.Fatalf("third run: Serve = %v", err)
			}
			if got, want := len(coord.Got()), map[bool]int{true: 2, false: 1}[keep]; got != want {
				t.Errorf("in all coord got %d alerts, want %d: %+v", got, want, coord.Got())
			}
		})
	}
}

// jsonField is field's value in the first journal line holding marker.
func jsonField(journal, marker, field string) string {
	for _, l := range strings.Split(journal, "\n") {
		if !strings.Contains(l, marker) {
			continue
		}
		_, v, ok := strings.Cut(l, `"`+field+`":"`)
		if !ok {
			return ""
		}
		v, _, _ = strings.Cut(v, `"`)
		return v
	}
	return ""
}
