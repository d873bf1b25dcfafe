package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/runstate"
	"github.com/clemhq/clem/tests/fakemodel"
)

// faultRow is one fault of the matrix: inject tells what it did and
// waits for the EVENT of recovery (a new MainPID, an answer, a record),
// returning why it did not recover ("" when it did).
type faultRow struct {
	name   string
	inject func(t *testing.T, fr *faultRun) string
}

// faultRun is the state the rows share.
type faultRun struct {
	s *systemFleet
	u *unitProber
	l *ledger
}

// Sizes of the small file systems the fleet's audit and board live on
// (mounted before boot, see mountSmallDisks).
const (
	pipelockDiskSize = "16m"
	coordDiskSize    = "32m"
)

// scenarioFaults is the fault matrix (issue 16): under load, each fault is
// injected, recovery awaited as an event, and the ledger of tasks,
// messages and audited connections checked: nothing lost. It logs (and
// writes to $CLEM_FAULTS_REPORT) one line per row, then `faults: N/N
// survived` and `lost: N`.
func scenarioFaults(t *testing.T, s *systemFleet) {
	start := time.Now()
	fr := &faultRun{s: s, u: newUnitProber(t, s)}
	fr.l = newLedger(fr.u)
	rows := []faultRow{
		{"kill9_pipelock_tunnel_open", fr.killPipelock},
		{"kill9_agent_vault_mid_request", fr.killVault},
		{"kill9_coord_mid_claim", fr.killCoord},
		{"kill9_watchdog", fr.killDaemon("watchdog")},
		{"kill9_runner_mid_iteration", fr.killRunner},
		{"kill9_sidecar_mid_call", fr.killSidecar},
		{"sigstop_pipelock", fr.sigstop("pipelock")},
		{"sigstop_agent_vault", fr.sigstop("vault")},
		{"sigstop_coord", fr.sigstop("coord")},
		{"sigstop_watchdog", fr.sigstop("watchdog")},
		{"sigstop_sidecar", fr.sigstop(fleetSidecar)},
		{"audit_disk_full", fr.auditDiskFull},
		{"board_disk_full", fr.boardDiskFull},
		{"model_api_500_529", fr.modelErrors},
		{"model_api_stall_mid_stream", fr.modelStall},
		{"model_api_401", fr.model401},
		{"reboot", fr.reboot}, // last: it boots the machine again
	}
	var lines []string
	survived, lostAll := 0, map[string]bool{} // a thing lost stays lost: counted once
	for _, row := range rows {
		var why string
		var took time.Duration
		var lost []string
		rowStart := time.Now()
		t.Run(row.name, func(t *testing.T) {
			r0, s0 := fr.allAlerts(t)
			conns0 := len(fr.l.conns)
			fr.load(t, row.name)
			t0 := time.Now()
			why = row.inject(t, fr)
			took = time.Since(t0)
			// After recovery the fleet serves: more of the same load.
			fr.load(t, row.name)
			lost = append(lost, fr.l.checkTasks(t)...)
			lost = append(lost, fr.l.checkConns(fr.l.conns[conns0:])...)
			lost = append(lost, fr.l.checkCalls()...)
			if row.name == "model_api_401" || row.name == "reboot" {
				lost = append(lost, fr.l.checkMessages(t, 150*time.Second)...)
			}
			if bad := fr.alertsOnce(t, r0, s0); bad != "" {
				why = strings.TrimPrefix(why+"; "+bad, "; ")
			}
			if len(lost) > 0 {
				why = strings.TrimPrefix(why+"; lost: "+strings.Join(lost, " | "), "; ")
			}
			if why != "" {
				t.Errorf("%s: %s", row.name, why)
			}
		})
		for _, l := range lost {
			lostAll[l] = true
		}
		times := fmt.Sprintf("[recovered in %v, row %v]", took.Round(100*time.Millisecond), time.Since(rowStart).Round(100*time.Millisecond))
		line := fmt.Sprintf("fault %s: survived %s", row.name, times)
		if why != "" {
			line = fmt.Sprintf("fault %s: FAILED (%s) %s", row.name, clip(why, 400), times)
		} else {
			survived++
		}
		lines = append(lines, line)
	}
	total := len(rows)
	// Rows other tests ran before this one (coord's remote backend outage,
	// `make test-faults` runs it first) appended their lines to the report.
	report := os.Getenv("CLEM_FAULTS_REPORT")
	if report != "" {
		others, ok, lost := otherRows(t, report)
		lines = append(others, lines...)
		total, survived = total+len(others), survived+ok
		for i := range lost {
			lostAll[fmt.Sprintf("%s #%d", report, i)] = true
		}
	}
	lines = append(lines, fmt.Sprintf("faults: %d/%d survived", survived, total), fmt.Sprintf("lost: %d", len(lostAll)))
	t.Logf("fault matrix in %v:\n%s", time.Since(start).Round(time.Second), strings.Join(lines, "\n"))
	if report != "" {
		os.WriteFile(report, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	}
}

// otherRows reads the fault rows other tests appended to the report
// (`fault NAME: survived (... lost N)` or `fault NAME: FAILED (...)`):
// the rows, how many survived, and one entry per thing they lost.
func otherRows(t *testing.T, report string) (rows []string, survived int, lost []int) {
	b, err := os.ReadFile(report)
	if err != nil && !os.IsNotExist(err) {
		t.Errorf("fault report %s: %v", report, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "fault ") {
			continue
		}
		rows = append(rows, l)
		if strings.Contains(l, ": survived") {
			survived++
		}
		var n int
		if i := strings.LastIndex(l, "lost "); i >= 0 {
			fmt.Sscanf(l[i:], "lost %d", &n)
		}
		for range n {
			lost = append(lost, len(lost))
		}
	}
	return rows, survived, lost
}

// load is the work that flows around every fault: a task added and
// claimed by lead, a message from lead to dev, a refused connection and
// a brokered upload through pipelock.
func (fr *faultRun) load(t *testing.T, row string) {
	if lt := fr.l.addTask(t, row); lt != nil {
		fr.l.claim("lead", lt)
	}
	fr.l.post(t, row)
	fr.l.connect(t, row, false, 0, 0, "")
	fr.l.connect(t, row, true, 64<<10, 0, "")
	fr.l.toolCall(t, row)
}

// alertLine is one of the watchdog's alert or recovery lines.
type alertKey struct{ subject, cause string }

// allAlerts counts the watchdog's alerts and recoveries per subject and
// cause, from its journal (every invocation).
func (fr *faultRun) allAlerts(t *testing.T) (raised, resolved map[alertKey]int) {
	raised, resolved = map[alertKey]int{}, map[alertKey]int{}
	for _, l := range strings.Split(fr.s.m.Journal(t, fr.s.f.unit("watchdog")), "\n") {
		isAlert, isRec := strings.Contains(l, `"msg":"alert"`), strings.Contains(l, `"msg":"recovered"`)
		if !isAlert && !isRec {
			continue
		}
		k := alertKey{jsonField(l, "subject"), jsonField(l, "cause")}
		if isRec {
			resolved[k]++
		} else {
			raised[k]++
		}
	}
	return raised, resolved
}

func jsonField(line, name string) string {
	i := strings.Index(line, `"`+name+`":"`)
	if i < 0 {
		return ""
	}
	v := line[i+len(name)+4:]
	if j := strings.Index(v, `"`); j >= 0 {
		return v[:j]
	}
	return v
}

// alertsOnce waits until every alert raised since before has its recovery
// (up to 90 s), then checks each fired exactly once and recovered once.
func (fr *faultRun) alertsOnce(t *testing.T, r0, s0 map[alertKey]int) string {
	var r1, s1 map[alertKey]int
	poll(90*time.Second, func() bool {
		r1, s1 = fr.allAlerts(t)
		for k, n := range r1 {
			if n-r0[k] > s1[k]-s0[k] {
				return false
			}
		}
		return true
	})
	var bad, seen []string
	for k, n := range r1 {
		raised, resolved := n-r0[k], s1[k]-s0[k]
		if raised == 0 && resolved == 0 {
			continue
		}
		seen = append(seen, fmt.Sprintf("%s/%s %d+%d", k.subject, k.cause, raised, resolved))
		if raised != 1 || resolved != 1 {
			bad = append(bad, fmt.Sprintf("%s (%s): %d alerts, %d recoveries, want 1 and 1", k.subject, k.cause, raised, resolved))
		}
	}
	sort.Strings(seen)
	t.Logf("alerts in this row (subject/cause alerts+recoveries): %s", strings.Join(seen, ", "))
	sort.Strings(bad)
	return strings.Join(bad, "; ")
}

// ---- kill -9 ----

// killUnit kills the unit's main process with SIGKILL and waits for a new
// main process to be active; "" when it is.
func (fr *faultRun) killUnit(t *testing.T, role string) string {
	unit := fr.s.f.unit(role)
	before := fr.s.m.Show(t, unit, "MainPID")["MainPID"]
	if _, e, code := fr.s.m.Exec(t, "kill", "-9", before); code != 0 {
		return "kill -9 " + before + ": " + e
	}
	return fr.waitNewPID(t, unit, before, 90*time.Second)
}

func (fr *faultRun) waitNewPID(t *testing.T, unit, before string, d time.Duration) string {
	var p map[string]string
	if !poll(d, func() bool {
		p = fr.s.m.Show(t, unit, "ActiveState", "SubState", "MainPID")
		return p["ActiveState"] == "active" && p["SubState"] == "running" && p["MainPID"] != before && p["MainPID"] != "0"
	}) {
		return fmt.Sprintf("%s not back with a new main process after %v: %v", unit, d, p)
	}
	return ""
}

func (fr *faultRun) killDaemon(role string) func(*testing.T, *faultRun) string {
	return func(t *testing.T, fr *faultRun) string { return fr.killUnit(t, role) }
}

// killPipelock: pipelock dies with a brokered upload in flight; meanwhile
// dev has no direct path (a connection around the proxy fails); it comes
// back and serves.
func (fr *faultRun) killPipelock(t *testing.T, _ *faultRun) string {
	done, why := fr.uploadInFlight(t, "kill9_pipelock_tunnel_open")
	if why != "" {
		<-done
		return why
	}
	why = fr.killUnit(t, "pipelock")
	c := <-done
	t.Logf("the upload in flight when pipelock died: CONNECT %s, HTTP %s", c.connect, c.code)
	direct := fr.u.run("dev", probe{Kind: "tcp", Addr: strings.TrimPrefix(fr.s.model.URL, "https://")})
	if direct.OK {
		why = strings.TrimPrefix(why+"; dev connected to the model directly, around pipelock", "; ")
	}
	return why
}

// uploadInFlight starts a 4 MiB brokered upload of dev's at 512 KiB/s
// and waits until its request reached the model (through pipelock and
// agent-vault) while its body is still on the way.
func (fr *faultRun) uploadInFlight(t *testing.T, row string) (<-chan *ledgerConn, string) {
	id := fr.l.next(row)
	done := make(chan *ledgerConn, 1)
	go func() { done <- fr.l.connect(t, row, true, 4<<20, 512<<10, id) }()
	if !poll(30*time.Second, func() bool { return fr.s.model.Arrived("/v1/ledger/" + id) }) {
		return done, "the upload did not reach the model"
	}
	return done, ""
}

// killVault: agent-vault dies with a brokered request in flight; it comes
// back and brokers again.
func (fr *faultRun) killVault(t *testing.T, _ *faultRun) string {
	done, why := fr.uploadInFlight(t, "kill9_agent_vault_mid_request")
	if why != "" {
		<-done
		return why
	}
	why = fr.killUnit(t, "vault")
	c := <-done
	t.Logf("the request in flight when agent-vault died: CONNECT %s, HTTP %s", c.connect, c.code)
	return why
}

// killCoord: coord dies while lead claims a task; afterwards the task has
// at most one holder (checkTasks), and dev cannot take it over.
func (fr *faultRun) killCoord(t *testing.T, _ *faultRun) string {
	lt := fr.l.addTask(t, "kill9_coord_mid_claim")
	if lt == nil {
		return "could not add the task to claim"
	}
	done := make(chan outcome)
	go func() { done <- fr.l.claim("lead", lt) }()
	why := fr.killUnit(t, "coord")
	o := <-done
	t.Logf("lead's claim of task %s as coord died: %s", lt.id, describe(o))
	if !lt.claimed {
		if o := fr.l.claim("lead", lt); !o.OK {
			why = strings.TrimPrefix(why+"; lead's claim after recovery: "+describe(o), "; ")
		}
	}
	if o := fr.l.claim("dev", lt); o.OK {
		why = strings.TrimPrefix(why+"; dev claimed task "+lt.id+" that lead holds", "; ")
	}
	return why
}

// killRunner: dev's runner dies in the middle of an iteration; the unit
// restarts and the next iteration ends well.
func (fr *faultRun) killRunner(t *testing.T, _ *faultRun) string {
	unit := fr.s.f.unit("agent-dev")
	if fr.s.waitState(t, "dev", 90*time.Second, func(st *runstate.State) bool { return st.Current != nil }) == nil {
		return "dev did not start an iteration"
	}
	it := fr.s.state("dev").Iteration
	why := fr.killUnit(t, "agent-dev")
	if why != "" {
		return why
	}
	st := fr.s.waitState(t, "dev", 150*time.Second, func(st *runstate.State) bool {
		return st.Last != nil && st.Last.Iteration > it && !st.Last.IsError
	})
	if st == nil {
		return "no good iteration of dev after the restart: " + tail(fr.s.m.Journal(t, unit), 10)
	}
	return ""
}

// ---- SIGSTOP ----

// sigstop stops the daemon; systemd's watchdog must kill it
// (Result=watchdog) and start it again.
func (fr *faultRun) sigstop(role string) func(*testing.T, *faultRun) string {
	return func(t *testing.T, _ *faultRun) string {
		unit := fr.s.f.unit(role)
		p := fr.s.m.Show(t, unit, "MainPID", "NRestarts", "WatchdogUSec")
		before := strings.Count(fr.s.m.Journal(t, unit), "Failed with result 'watchdog'")
		t0 := time.Now()
		if _, e, code := fr.s.m.Exec(t, "kill", "-STOP", p["MainPID"]); code != 0 {
			return "kill -STOP: " + e
		}
		if why := fr.waitNewPID(t, unit, p["MainPID"], 120*time.Second); why != "" {
			fr.s.m.Exec(t, "kill", "-CONT", p["MainPID"])
			return why
		}
		after := fr.s.m.Show(t, unit, "Result", "NRestarts", "ExecMainStartTimestamp")
		killed := strings.Count(fr.s.m.Journal(t, unit), "Failed with result 'watchdog'") - before
		t.Logf("%s stopped: back in %v (WatchdogUSec=%s); Result=%s NRestarts %s -> %s, started %s; watchdog kills in its journal: %d",
			role, time.Since(t0).Round(100*time.Millisecond), p["WatchdogUSec"], after["Result"], p["NRestarts"], after["NRestarts"], after["ExecMainStartTimestamp"], killed)
		if killed != 1 {
			return fmt.Sprintf("%d watchdog kills in %s's journal, want 1", killed, unit)
		}
		return ""
	}
}

// ---- disks full ----

// fill fills the file system of dir from the host, as root, and returns
// the file to remove to free it.
func fill(t *testing.T, dir string) string {
	f := filepath.Join(dir, ".clem-faults-fill")
	cmdOut(t, "sh", "-c", "dd if=/dev/zero of="+f+" bs=64k 2>/dev/null; sync")
	return f
}

// auditDiskFull: pipelock's audit disk fills; new connections are refused
// with 503 and one journal line; freed, it recovers by itself.
func (fr *faultRun) auditDiskFull(t *testing.T, _ *faultRun) string {
	unit := fr.s.f.unit("pipelock")
	dir := "/var/lib/clem/" + fr.s.f.name + "/pipelock"
	j0 := fr.s.m.Journal(t, unit)
	f := fill(t, dir)
	var whys []string
	c := fr.l.connect(t, "audit_disk_full", false, 0, 0, "")
	if c.connect != "503" {
		whys = append(whys, fmt.Sprintf("a connection with the audit disk full got CONNECT %s, want 503", c.connect))
	}
	c.connect = "000" // refused unaudited, by design: owes no record
	if j, ok := waitJournal(t, fr.s.m, unit, `refusing connections: audit log unavailable`, 30*time.Second); !ok || strings.Count(j, "refusing connections: audit log unavailable") != strings.Count(j0, "refusing connections: audit log unavailable")+1 {
		whys = append(whys, "no (or more than one) journal line `refusing connections: audit log unavailable`")
	}
	if code, h := fr.healthz(t, "pipelock"); code != "503" || !strings.Contains(h, "audit") {
		whys = append(whys, fmt.Sprintf("pipelock's /healthz with the audit disk full: %s %s, want 503 saying the audit log", code, clip(h, 200)))
	}
	os.Remove(f)
	var c2 *ledgerConn
	poll(30*time.Second, func() bool { c2 = fr.l.connect(t, "audit_disk_full", false, 0, 0, ""); return c2.connect == "403" })
	if c2.connect != "403" {
		whys = append(whys, "after freeing the disk pipelock still answers "+c2.connect)
	}
	if _, ok := waitJournal(t, fr.s.m, unit, "audit log writable again", 30*time.Second); !ok {
		whys = append(whys, "no journal line `audit log writable again`")
	}
	return strings.Join(whys, "; ")
}

// boardDiskFull: coord's disk fills; writes fail saying so, reads work;
// freed, writes work again. The board (bbolt) reuses pages it freed
// before, so the first writes after the disk fills may still fit: tasks
// are added (each in the ledger: it must survive) until one is refused,
// as coord's own TestBoardDiskFull does.
func (fr *faultRun) boardDiskFull(t *testing.T, _ *faultRun) string {
	dir := "/var/lib/clem/" + fr.s.f.name + "/coord"
	body := filepath.Join(fr.s.f.dir, "board-fill-body")
	writeFile(t, body, strings.Repeat("a task body that takes room on the board\n", 400)) // 16 KiB
	f := fill(t, dir)
	var whys []string
	refused, added := "", 0
	for ; added < 200 && refused == ""; added++ {
		if lt, out := fr.l.addTaskWith(t, "board_disk_full", "--body", body); lt == nil {
			refused = out
		}
	}
	t.Logf("board disk full: %d tasks added before one was refused: %s", added-1, clip(refused, 300))
	if !strings.Contains(refused, "board: disk full") {
		whys = append(whys, fmt.Sprintf("after %d task adds on a full board disk, none refused with `board: disk full`: %s", added, clip(refused, 200)))
	}
	if out, code := fr.s.clem(t, "task", "list"); code != 0 {
		whys = append(whys, "reads fail with the disk full: "+clip(out, 200))
	}
	if code, h := fr.healthz(t, "coord"); code != "503" || !strings.Contains(h, "degraded: board: disk full") {
		whys = append(whys, fmt.Sprintf("coord's /healthz with the disk full: %s %s, want 503 degraded: board: disk full", code, clip(h, 200)))
	}
	os.Remove(f)
	var lt *ledgerTask
	poll(30*time.Second, func() bool { lt = fr.l.addTask(t, "board_disk_full"); return lt != nil })
	if lt == nil {
		whys = append(whys, "no task add works after the disk was freed")
	}
	return strings.Join(whys, "; ")
}

// healthz asks a daemon's admin socket for /healthz from inside the
// machine, as root; it returns the status code and body.
func (fr *faultRun) healthz(t *testing.T, role string) (code, body string) {
	sock := "/run/clem/" + fr.s.f.name + "/" + role + "/admin.sock"
	if role == "vault" || role == "coord" {
		sock = "/run/clem/" + fr.s.f.name + "/" + role + "/admin/admin.sock"
	}
	out, errOut, _ := fr.s.m.Exec(t, "curl", "-sS", "-m", "10", "-w", "\n%{http_code}", "--unix-socket", sock, "http://admin/healthz")
	out = strings.TrimSpace(out)
	i := strings.LastIndex(out, "\n")
	if i < 0 {
		return out, errOut
	}
	return out[i+1:], out[:i]
}

// ---- the model API ----

// nextGoodIteration waits for an iteration of dev's after it that ended
// well.
func (fr *faultRun) nextGoodIteration(t *testing.T, it int, d time.Duration) *runstate.State {
	return fr.s.waitState(t, "dev", d, func(st *runstate.State) bool {
		return st.Last != nil && st.Last.Iteration > it && !st.Last.IsError && !st.Last.Stalled
	})
}

// modelErrors: the API answers 500 and then 529 for a few requests; the
// CLI's retries ride it out and dev's iteration ends well.
func (fr *faultRun) modelErrors(t *testing.T, _ *faultRun) string {
	it := fr.s.state("dev").Iteration
	n0 := fr.s.model.Faulted()
	fr.s.model.SetFault(fakemodel.Fault{Status: 500, Count: 2})
	if !poll(120*time.Second, func() bool { return fr.s.model.Faulted() >= n0+2 }) {
		fr.s.model.ClearFault()
		return "the model got no request during the 500s"
	}
	fr.s.model.SetFault(fakemodel.Fault{Status: 529, Count: 2})
	poll(60*time.Second, func() bool { return fr.s.model.Faulted() >= n0+4 })
	fr.s.model.ClearFault()
	if fr.nextGoodIteration(t, it, 180*time.Second) == nil {
		return fmt.Sprintf("no good iteration of dev after the 500/529s: %+v", fr.s.state("dev"))
	}
	return ""
}

// modelStall: the API stops mid-stream; the runner's stall_timeout ends
// the iteration and the next one ends well once the API answers.
func (fr *faultRun) modelStall(t *testing.T, _ *faultRun) string {
	st0 := fr.s.state("dev")
	fr.s.model.SetFault(fakemodel.Fault{MidStream: true})
	st := fr.s.waitState(t, "dev", 150*time.Second, func(st *runstate.State) bool { return st.Stalls > st0.Stalls })
	fr.s.model.ClearFault()
	if st == nil || st.Stalls <= st0.Stalls {
		return "no stall recorded"
	}
	if fr.nextGoodIteration(t, st.Last.Iteration, 180*time.Second) == nil {
		return "no good iteration after the stall"
	}
	return ""
}

// model401: the API refuses the key; one credentials alert; the key is
// good again; one recovery.
func (fr *faultRun) model401(t *testing.T, _ *faultRun) string {
	r0, _ := fr.allAlerts(t)
	fr.s.model.SetFault(fakemodel.Fault{Status: 401})
	k := alertKey{"agent dev", "credentials"}
	alerted := poll(240*time.Second, func() bool { r, _ := fr.allAlerts(t); return r[k] > r0[k] })
	st := fr.s.state("dev")
	fr.s.model.ClearFault()
	if !alerted {
		return fmt.Sprintf("no credentials alert for dev; its state: %+v", st)
	}
	if fr.nextGoodIteration(t, st.Iteration, 240*time.Second) == nil {
		return "no good iteration after the key was accepted again"
	}
	return ""
}

// ---- reboot ----

// reboot powers the machine off, drops the egress table as a reboot
// would, boots again over the same directories and brings the fleet up:
// the egress table is back before any agent starts; tasks, inboxes,
// placeholders and runner state are intact.
func (fr *faultRun) reboot(t *testing.T, _ *faultRun) string {
	s := fr.s
	stBefore := s.state("dev")
	s.m.Shutdown(t)
	deleteTable(t, s.f, false)
	s.m = s.f.bootWith(t, bootOptions(s))
	var whys []string
	if out, code := s.clem(t, "up"); code != 0 {
		return "clem up after the reboot: " + clip(out, 300)
	}
	guard := s.m.Show(t, "clem-"+s.f.name+"-egress.service", "ActiveEnterTimestampMonotonic")["ActiveEnterTimestampMonotonic"]
	for _, a := range []string{"lead", "dev"} {
		unit := s.f.unit("agent-" + a)
		if st := waitProp(t, s.m, unit, "ActiveState", 90*time.Second, func(v string) bool { return v == "active" }); st != "active" {
			whys = append(whys, a+" is "+st+" after the reboot")
			continue
		}
		p := s.m.Show(t, unit, "ExecMainStartTimestampMonotonic", "ExecStartPre")
		if !(monoLess(guard, p["ExecMainStartTimestampMonotonic"])) || !strings.Contains(p["ExecStartPre"], "status=0") {
			whys = append(whys, fmt.Sprintf("%s started at %s, the egress guard active at %s; its egress check: %s", a, p["ExecMainStartTimestampMonotonic"], guard, p["ExecStartPre"]))
		}
	}
	if _, code := s.clem(t, "egress", "verify", "--quiet", "--project", s.f.name); code != 0 {
		whys = append(whys, "egress verify fails after the reboot")
	}
	st := s.waitState(t, "dev", 120*time.Second, func(st *runstate.State) bool { return st.Last != nil && st.Last.Iteration > stBefore.Iteration })
	if st == nil || st.Iteration <= stBefore.Iteration || st.Today.CostUSD < stBefore.Today.CostUSD {
		whys = append(whys, fmt.Sprintf("dev's runner state after the reboot: %+v, before: iteration %d", st, stBefore.Iteration))
	}
	env := fr.l.agentEnv(t, "dev")
	if !strings.Contains(env["ANTHROPIC_API_KEY"], "__clem_dev_anthropic_api_key_") {
		whys = append(whys, "dev's placeholder is gone after the reboot")
	}
	return strings.Join(whys, "; ")
}

func monoLess(a, b string) bool {
	var x, y int64
	fmt.Sscan(a, &x)
	fmt.Sscan(b, &y)
	return x > 0 && y > 0 && x <= y
}
