package tests

import (
	"fmt"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/audit"
)

// sidecarChildDir is where the fleet's sidecar child runs (its working
// directory, emptied at every sidecar start): <run dir>/children/<server>/shared.
func (fr *faultRun) sidecarChildDir() string {
	return "/run/clem/" + fr.s.f.name + "/" + fleetSidecar + "/children/db/shared"
}

// exists reports whether path exists inside the machine (root sees the
// sidecar's private directories there).
func (fr *faultRun) exists(t *testing.T, p string) bool {
	_, _, code := fr.s.m.Exec(t, "test", "-e", p)
	return code == 0
}

// killSidecar: sidecar dies with lead's tool call in flight (the child's
// block tool holds it); the caller gets an error, not a hang nor an
// answer, the unit comes back, and the next call is answered (and
// audited: load's calls, checkCalls).
func (fr *faultRun) killSidecar(t *testing.T, _ *faultRun) string {
	started := path.Join(fr.sidecarChildDir(), blockStarted)
	done := make(chan outcome, 1)
	go func() {
		done <- fr.u.run("lead", probe{Kind: "mcp", URL: sidecarMCP(), Path: "block"})
	}()
	if !poll(30*time.Second, func() bool { return fr.exists(t, started) }) {
		o := <-done
		return "lead's block call did not reach the tool: " + describe(o)
	}
	why := fr.killUnit(t, fleetSidecar)
	o := <-done
	t.Logf("lead's tool call in flight when sidecar died: %s", describe(o))
	if o.OK {
		why = strings.TrimPrefix(why+"; the call in flight when sidecar died was answered ok: "+o.Body, "; ")
	}
	return why
}

// toolCall calls the sidecar's query tool as lead; answered calls are in
// the ledger (each owes one audit record of sidecar's).
func (l *ledger) toolCall(t *testing.T, row string) {
	o := l.u.run("lead", probe{Kind: "mcp", URL: sidecarMCP(), Path: "query"})
	if !o.OK || !strings.Contains(o.Body, "db answer: 42 rows") {
		t.Logf("ledger: %s: lead's sidecar call not answered: %s", row, describe(o))
		return
	}
	if strings.Contains(o.Body, fleetDBPassword) {
		t.Errorf("%s: the sidecar's answer holds its secret: %s", row, o.Body)
	}
	l.mu.Lock()
	l.calls++
	l.mu.Unlock()
}

// checkCalls: sidecar's audit log holds exactly one successful tool_call
// record of lead's query per answered call: none lost, none doubled.
func (l *ledger) checkCalls() (lost []string) {
	recs := auditRecords("/var/lib/clem/" + l.s.f.name + "/" + fleetSidecar + "/audit.log")
	n := 0
	for _, r := range recs {
		if r.Event == "tool_call" && r.Path == "query" && r.Agent == "lead" && r.Decision == audit.Allow && r.Error == "" {
			n++
		}
	}
	l.mu.Lock()
	calls := l.calls
	l.mu.Unlock()
	if n != calls {
		lost = append(lost, fmt.Sprintf("sidecar's audit log has %d records of lead's query calls, %d were answered", n, calls))
	}
	return lost
}
