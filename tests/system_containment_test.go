package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/egressstate"
	"github.com/clemhq/clem/shared/testutil/netns"
)

// scenarioContainment is the second part of the attack matrix: attempts
// made inside a running agent's unit (its cgroup, so SocketBindDeny=,
// TasksMax= and MemoryMax= apply, and its mount namespace) or against
// the fleet's daemons under real systemd, where the watchdog must speak.
func scenarioContainment(t *testing.T, s *systemFleet) {
	u := newUnitProber(t, s)
	p := fleetProxyPort
	tamper := u.egressTampered()
	rows := []*attempt{
		u.bindAttempt("dev", "bind", fmt.Sprintf("127.0.0.1:%d", p+20), fmt.Sprintf("127.0.0.1:%d", p+40)),
		u.bindAttempt("dev", "bind", fmt.Sprintf("[::]:%d", p+21), fmt.Sprintf("[::]:%d", p+41)),
		u.bindAttempt("dev", "bind-mptcp", fmt.Sprintf("127.0.0.1:%d", p+22), ""),
		u.restartRace(),
		u.forkBomb(),
		u.memoryHog(),
		u.openFiles(),
		u.inboxBehindFlood(),
		u.attachHook(),
		tamper,
		u.unbindableDaemon(),
		u.adminSockets(),
		u.signerKeys(),
		u.crashThenEgress(), // last: it stops the egress guard and restarts an agent
	}
	for i, a := range rows {
		start := time.Now()
		held, got := a.run()
		a.held, a.got = held, strings.Join(strings.Fields(got), " ")
		t.Logf("%s: held %v in %v: %s", a.name, a.held, time.Since(start).Round(time.Millisecond), a.got)
		// Exactly one alert for the one tamper: judged after the next
		// attempt, which spans many watchdog rounds.
		if i > 0 && rows[i-1] == tamper {
			if n := u.tamperAlerts() - u.tamperBefore; n != 1 && tamper.held {
				tamper.held, tamper.got = false, tamper.got+fmt.Sprintf("; %d alerts after more rounds, want 1", n)
			}
		}
	}
	recordMatrix(t, "inside the units of a running fleet (real systemd)", rows)
}

// unitProber runs probes as an agent inside its unit.
type unitProber struct {
	t     *testing.T
	s     *systemFleet
	probe string // the test binary, where every unit can read it

	tamperBefore int // egress tamper alerts before the tamper attempt
}

// tamperAlerts counts the watchdog's alerts about a changed egress table.
func (u *unitProber) tamperAlerts() int {
	raised, _ := u.s.alerts(u.t, "daemon egress")
	return strings.Count(causes(raised), "egress-tampered")
}

func newUnitProber(t *testing.T, s *systemFleet) *unitProber {
	bin := filepath.Join(s.f.sysBin, "clem-test-probe")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := copyFile(self, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	return &unitProber{t: t, s: s, probe: bin}
}

// joinUnit is run by root inside the machine: it moves itself into every
// cgroup hierarchy's group of the unit's main process, enters that
// process's mount namespace and becomes the agent, then runs the probe.
// (The unit's seccomp filter and rlimits are the process's own, not the
// cgroup's: the probe does not get them.)
const joinUnit = `pid=$1; user=$2; shift 2
while IFS=: read -r id ctrl path; do
  if [ -z "$ctrl" ]; then
    for d in /sys/fs/cgroup/unified /sys/fs/cgroup; do
      if [ -f "$d$path/cgroup.procs" ]; then echo $$ > "$d$path/cgroup.procs" || exit 90; break; fi
    done
  else
    for c in "${ctrl#name=}" "${ctrl%%,*}"; do
      if [ -f "/sys/fs/cgroup/$c$path/cgroup.procs" ]; then echo $$ > "/sys/fs/cgroup/$c$path/cgroup.procs" || exit 91; break; fi
    done
  fi
done < /proc/$pid/cgroup
exec nsenter -t "$pid" -m -- setpriv --reuid="$user" --regid="$user" --init-groups --no-new-privs -- "$@"`

func (u *unitProber) cmd(ctx context.Context, agent string, p probe) *exec.Cmd {
	unit := u.s.f.unit("agent-" + agent)
	pid := u.s.m.Show(u.t, unit, "MainPID")["MainPID"]
	spec, _ := json.Marshal(p)
	return u.s.m.Command(ctx, "sh", "-c", joinUnit, "join", pid, u.s.f.user(agent),
		"env", "-i", probeEnv+"="+string(spec), "PATH=/usr/bin:/bin", "HOME=/home/"+u.s.f.user(agent), u.probe)
}

// run makes one probe inside agent's unit and returns its outcome.
func (u *unitProber) run(agent string, p probe) outcome {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := u.cmd(ctx, agent, p).Output()
	var o outcome
	if jerr := json.Unmarshal(out, &o); jerr != nil {
		return outcome{Err: fmt.Sprintf("probe process: %v: %s", err, out)}
	}
	return o
}

// viaRunner runs a probe as a descendant of the agent's runner (a window
// of the runner's own tmux server), so it has everything the runner
// confined itself with (Landlock, its seccomp filter), as anything the
// agent runs does. The spec and the outcome go through files in the
// agent's home. With stop set, the probe runs until that file appears
// and viaRunner returns at once; finish reads the outcome.
func (u *unitProber) viaRunner(agent string, p probe) (finish func() outcome) {
	s := u.s
	home := "/home/" + s.f.user(agent)
	n := strconv.FormatInt(time.Now().UnixNano(), 36)
	spec, out := home+"/.probe-spec-"+n, home+"/.probe-out-"+n
	b, _ := json.Marshal(p)
	writeFile(u.t, spec, string(b))
	uid, gid := userIDs(u.t, s.f.user(agent))
	os.Chown(spec, int(uid), int(gid))
	sock := "/var/lib/clem/" + s.f.name + "/agents/" + agent + "/tmux.sock"
	cmd := fmt.Sprintf(`%s=$(cat %s) exec %s > %s 2>&1`, probeEnv, spec, u.probe, out)
	if o, e, code := s.m.ExecAs(u.t, s.f.user(agent), "tmux", "-S", sock, "new-window", "-d", "-t", "clem-"+agent, "sh", "-c", cmd); code != 0 {
		return func() outcome { return outcome{Err: "tmux new-window: " + o + e} }
	}
	return func() outcome {
		var o outcome
		poll(60*time.Second, func() bool {
			data, _, _ := s.m.Exec(u.t, "cat", out)
			lines := strings.Split(strings.TrimSpace(data), "\n")
			return json.Unmarshal([]byte(lines[len(lines)-1]), &o) == nil
		})
		os.Remove(spec)
		os.Remove(out)
		return o
	}
}

func (u *unitProber) start(agent string, p probe) *bgProbe {
	return startProbe(u.t, u.cmd(context.Background(), agent, p))
}

// bindAttempt is item 1 inside the unit: a bind in the project's port
// block by anything the runner started is refused (its Landlock domain;
// SocketBindDeny= where systemd enforces it); a bind outside the block
// works (control), and so does the same bind by the agent's uid outside
// the runner's tree (control: the refusal is the confinement's).
func (u *unitProber) bindAttempt(agent, kind, addr, control string) *attempt {
	return &attempt{
		name:     fmt.Sprintf("[1] bind %s (%s) from a process the agent's runner started", addr, kind),
		expected: "refused (EACCES, or no MPTCP at all); a bind outside the block works, and the same bind outside the runner's tree does (controls)",
		run: func() (bool, string) {
			// (MPTCP is refused outright, so it has no "outside the block"
			// control of its own.)
			if control != "" {
				if c := u.viaRunner(agent, probe{Kind: kind, Addr: control})(); !c.OK {
					return false, "control failed: outside the block: " + describe(c)
				}
			}
			if c := u.run(agent, probe{Kind: kind, Addr: addr}); !c.OK {
				return false, "control failed: outside the runner's tree: " + describe(c)
			}
			o := u.viaRunner(agent, probe{Kind: kind, Addr: addr})()
			denied := strings.Contains(o.Err, "permission denied") || strings.Contains(o.Err, "protocol not available")
			return !o.OK && denied, describe(o)
		},
	}
}

// restartRace is items 1 and 15: pipelock is killed; an agent that was
// waiting binds its port in a loop while systemd restarts it.
func (u *unitProber) restartRace() *attempt {
	s := u.s
	unit := s.f.unit("pipelock")
	return &attempt{
		name:     "[15] kill -9 pipelock while an agent loops binding its port",
		expected: "no bind works; pipelock is back on its port with a new process",
		run: func() (bool, string) {
			before := s.m.Show(u.t, unit, "MainPID")["MainPID"]
			stop := "/home/" + s.f.user("dev") + "/.squat-stop"
			ready := "/home/" + s.f.user("dev") + "/.squat-ready"
			finish := u.viaRunner("dev", probe{Kind: "bindloop", Addr: fmt.Sprintf("127.0.0.1:%d", fleetProxyPort), Path: stop, Table: ready})
			if !poll(30*time.Second, func() bool { _, _, code := s.m.Exec(u.t, "test", "-e", ready); return code == 0 }) {
				return false, "the squatter did not start: " + describe(finish())
			}
			s.m.Exec(u.t, "systemctl", "kill", "-s", "KILL", unit)
			back := poll(60*time.Second, func() bool {
				p := s.m.Show(u.t, unit, "ActiveState", "MainPID")
				return p["ActiveState"] == "active" && p["MainPID"] != before && p["MainPID"] != "0"
			})
			s.m.Exec(u.t, "touch", stop)
			o := finish()
			s.m.Exec(u.t, "rm", "-f", stop, ready)
			return back && o.N == 0 && strings.Contains(o.Body, "tried"), fmt.Sprintf("squatter: %s (%s); pipelock back: %v", o.Body, clip(o.Err, 60), back)
		},
	}
}

// forkBomb is item 19: a fork loop in the unit stops at its TasksMax.
func (u *unitProber) forkBomb() *attempt {
	s := u.s
	return &attempt{
		name:     "[19] fork far past the unit's TasksMax inside dev's unit",
		expected: "the kernel stops it at TasksMax (the pids controller is the test systemd's)",
		run: func() (bool, string) {
			ctrls, _ := s.m.Controllers()
			if !strings.Contains(strings.Join(ctrls, " "), "pids") {
				return false, fmt.Sprintf("the test systemd has no pids controller (%v): the limit is not enforced here", ctrls)
			}
			max, err := strconv.Atoi(s.m.Show(u.t, s.f.unit("agent-dev"), "TasksMax")["TasksMax"])
			if err != nil {
				return false, "TasksMax is not a number: the unit is unbounded"
			}
			o := u.run("dev", probe{Kind: "fork", Count: max + 200})
			return o.N < max && strings.Contains(o.Err, "resource temporarily unavailable"), fmt.Sprintf("TasksMax=%d; %s", max, describe(o))
		},
	}
}

// memoryHog is item 19: allocating twice the unit's MemoryMax ends in a
// kill inside the unit, and the agent's unit stays up.
func (u *unitProber) memoryHog() *attempt {
	s := u.s
	return &attempt{
		name:     "[19] allocate twice the unit's MemoryMax inside dev's unit",
		expected: "killed by the memory limit; the agent's unit stays active",
		run: func() (bool, string) {
			max, err := strconv.ParseInt(s.m.Show(u.t, s.f.unit("agent-dev"), "MemoryMax")["MemoryMax"], 10, 64)
			if err != nil {
				return false, "MemoryMax is not a number: the unit is unbounded"
			}
			o := u.run("dev", probe{Kind: "alloc", Size: 2 * max})
			active := waitProp(u.t, s.m, s.f.unit("agent-dev"), "ActiveState", 30*time.Second, func(v string) bool { return v == "active" })
			return !o.OK && active == "active", fmt.Sprintf("MemoryMax=%d MiB; probe: %s; unit %s", max>>20, describe(o), active)
		},
	}
}

// openFiles is item 5: the runner (and everything it starts) has the
// unit's open-files limit.
func (u *unitProber) openFiles() *attempt {
	s := u.s
	return &attempt{
		name:     "[5] dev's runner's open-files limit",
		expected: "the unit's LimitNOFILE, not the host's default",
		run: func() (bool, string) {
			p := s.m.Show(u.t, s.f.unit("agent-dev"), "MainPID", "LimitNOFILE")
			out, _, _ := s.m.Exec(u.t, "grep", "Max open files", "/proc/"+p["MainPID"]+"/limits")
			f := strings.Fields(out)
			ok := len(f) >= 5 && f[3] == p["LimitNOFILE"] && f[4] == p["LimitNOFILE"] && p["LimitNOFILE"] != "infinity"
			return ok, fmt.Sprintf("LimitNOFILE=%s; runner: %s", p["LimitNOFILE"], strings.Join(f, " "))
		},
	}
}

// attachHook is items 2 and 14: the agent plants a client-attached hook
// in its own tmux server whose payload runs on the attaching client's
// terminal (detach-client -E), reports that terminal, writes terminal
// escapes (OSC 52 clipboard, a cursor query, a title) and pushes a line
// with TIOCSTI. The operator attaches read-only from a shell in a pty;
// after clem attach ends, the shell reads what is waiting on its
// terminal. Nothing of the payload may reach the operator's terminal.
func (u *unitProber) attachHook() *attempt {
	s := u.s
	agent := s.f.user("dev")
	home := "/home/" + agent
	sock := "/var/lib/clem/" + s.f.name + "/agents/dev/tmux.sock"
	return &attempt{
		name:     "[2][14] a planted client-attached hook runs on `clem attach -r dev`",
		expected: "the payload gets clem's pty, not the operator's; no escape and no pushed line reach the operator; nothing it started outlives the attach",
		run: func() (bool, string) {
			spec, _ := json.Marshal(probe{Kind: "tiocsti", Stdin: "echo INJECTED-BY-AGENT\n"})
			payload := fmt.Sprintf("#!/bin/sh\ntty > %[1]s/.attach-tty\nprintf '\\033]52;c;ZXZpbA==\\007\\033[6n\\033]0;pwned\\007'\n%[2]s='%[3]s' %[4]s > %[1]s/.attach-tiocsti 2>&1\nsetsid sleep 600 </dev/null >/dev/null 2>&1 &\necho $! > %[1]s/.attach-escape\n", home, probeEnv, spec, u.probe)
			writeFile(u.t, home+"/.attach-payload.sh", payload)
			uid, gid := userIDs(u.t, agent)
			os.Chown(home+"/.attach-payload.sh", int(uid), int(gid))
			hook := "detach-client -E 'sh " + home + "/.attach-payload.sh'"
			if o, e, code := s.m.ExecAs(u.t, agent, "tmux", "-S", sock, "set-hook", "-g", "client-attached", hook); code != 0 {
				return false, "the agent could not plant its hook: " + o + e
			}
			defer s.m.ExecAs(u.t, agent, "tmux", "-S", sock, "set-hook", "-gu", "client-attached")
			op := "/tmp/clem-op-" + strconv.FormatInt(time.Now().UnixNano(), 36)
			shell := fmt.Sprintf(`tty > %[1]s.tty; TERM=xterm-256color CLEM_FILE=%[2]s %[3]s/clem attach -r dev; read -t 1 line; echo "AFTER:$line"`, op, s.cfg, s.f.sysBin)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := s.m.Command(ctx, "script", "-q", "-f", "-e", "-c", shell, op+".typescript")
			stdin, _ := cmd.StdinPipe() // held open: the operator is still at the keyboard
			defer stdin.Close()
			out, err := cmd.CombinedOutput()
			typescript, _, _ := s.m.Exec(u.t, "cat", op+".typescript")
			opTTY, _, _ := s.m.Exec(u.t, "cat", op+".tty")
			payTTY, _, _ := s.m.Exec(u.t, "cat", home+"/.attach-tty")
			tiocsti, _, _ := s.m.Exec(u.t, "cat", home+"/.attach-tiocsti")
			escape, _, _ := s.m.Exec(u.t, "cat", home+"/.attach-escape")
			escaped := false
			if pid := strings.TrimSpace(escape); pid != "" {
				_, _, code := s.m.Exec(u.t, "kill", "-0", pid)
				escaped = code == 0
				s.m.Exec(u.t, "kill", "-9", pid)
			}
			s.m.Exec(u.t, "rm", "-f", op+".typescript", op+".tty", home+"/.attach-tty", home+"/.attach-tiocsti", home+"/.attach-payload.sh", home+"/.attach-escape")
			opTTY, payTTY = strings.TrimSpace(opTTY), strings.TrimSpace(payTTY)
			seen := typescript + string(out)
			escapes := strings.Contains(seen, "\x1b]52") || strings.Contains(seen, "\x1b[6n") || strings.Contains(seen, "\x1b]0;pwned")
			injected := strings.Contains(seen, "AFTER:echo INJECTED")
			got := fmt.Sprintf("operator's tty %s, payload's tty %q, payload's TIOCSTI: %s; escapes reached the operator: %v; pushed line reached the operator's shell: %v; a setsid child outlived the attach: %v (script: %v)",
				opTTY, payTTY, clip(strings.TrimSpace(tiocsti), 60), escapes, injected, escaped, err)
			ran := payTTY != "" && strings.TrimSpace(escape) != ""
			if !ran {
				got += fmt.Sprintf("; the operator saw %q", clip(seen, 300))
			}
			return ran && opTTY != "" && payTTY != opTTY && !escapes && !injected && !escaped && strings.Contains(seen, "AFTER:"), got
		},
	}
}

// inboxBehindFlood is item 8: another agent posts four 32 KiB messages to
// dev, then the operator adds a task for dev: the task reaches one of
// dev's prompts (nothing acknowledged that a prompt did not carry).
func (u *unitProber) inboxBehindFlood() *attempt {
	s := u.s
	return &attempt{
		name:     "[8] four 32 KiB posts to dev from another agent, then an operator's task",
		expected: "the operator's task reaches a later prompt of dev's",
		run: func() (bool, string) {
			mcpURL := fmt.Sprintf("http://127.0.0.1:%d/mcp", fleetProxyPort+2)
			var posted []string
			for i := 0; i < 4; i++ {
				o := u.run("lead", probe{Kind: "mcp", URL: mcpURL, Path: "post_message",
					Args: map[string]any{"to": "dev", "body": fmt.Sprintf("post %d: %s", i, strings.Repeat("x", 32<<10-16))}})
				posted = append(posted, describe(o))
			}
			marker := "operator-after-flood-" + strconv.FormatInt(time.Now().UnixNano(), 36)
			if out, code := s.clem(u.t, "task", "add", "Read this: "+marker, "--to", "dev"); code != 0 {
				return false, "clem task add: " + out
			}
			seen := poll(150*time.Second, func() bool {
				for _, r := range s.model.Requests() {
					if strings.Contains(string(r.Body), marker) {
						return true
					}
				}
				return false
			})
			return seen, fmt.Sprintf("posts: %s; the task in a prompt of dev's: %v", strings.Join(posted, " / "), seen)
		},
	}
}

// unbindableDaemon is item 15: coord cannot bind its port (root holds it,
// as a squatter would have before the fix); the watchdog alerts about the
// daemon, and recovers once when the port is free again.
func (u *unitProber) unbindableDaemon() *attempt {
	s := u.s
	unit := s.f.unit("coord")
	return &attempt{
		name:     "[15] coord cannot bind its MCP port (someone else holds it)",
		expected: "the watchdog alerts about coord (failed or restarting), once per cause; one recovery after",
		run: func() (bool, string) {
			s.m.Systemctl(u.t, "stop", unit)
			var ln net.Listener
			netns.In(u.t, s.f.netns, func() {
				ln, _ = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", fleetProxyPort+2))
			})
			if ln == nil {
				return false, "could not hold coord's port for the test"
			}
			s.m.Exec(u.t, "systemctl", "start", "--no-block", unit)
			var raised []string
			alerted := poll(90*time.Second, func() bool { raised, _ = s.alerts(u.t, "daemon coord"); return len(raised) > 0 })
			ln.Close()
			s.m.Exec(u.t, "systemctl", "reset-failed", unit)
			s.m.Exec(u.t, "systemctl", "start", unit)
			var resolved []string
			recovered := poll(60*time.Second, func() bool { raised, resolved = s.alerts(u.t, "daemon coord"); return len(resolved) > 0 })
			once := onePerCause(raised)
			return alerted && recovered && once, fmt.Sprintf("alerts: %s; recoveries: %d", causes(raised), len(resolved))
		},
	}
}

// egressTampered is item 17: the table is deleted while agents run; the
// guard restores it and the watchdog alerts exactly once.
func (u *unitProber) egressTampered() *attempt {
	s := u.s
	return &attempt{
		name:     "[17] delete the egress table while the agents run",
		expected: "restored by the egress guard at once; one alert",
		run: func() (bool, string) {
			before, err := u.egressState()
			if err != nil {
				return false, "no egress guard state: " + err.Error()
			}
			u.tamperBefore = u.tamperAlerts()
			deleteTable(u.t, s.f, false) // the guard restores it at once
			var st *egressstate.State
			restored := poll(30*time.Second, func() bool {
				st, _ = u.egressState()
				return st != nil && st.Restored > before.Restored && st.OK
			})
			_, verify := s.clem(u.t, "egress", "verify", "--quiet", "--project", s.f.name)
			alerted := poll(30*time.Second, func() bool { return u.tamperAlerts() > u.tamperBefore })
			if st == nil {
				return false, "no egress guard state after the tamper"
			}
			return restored && verify == 0 && alerted && st.Tampered == before.Tampered+1,
				fmt.Sprintf("restored: %v, verify exit %d, tampers counted %d, alerted: %v", restored, verify, st.Tampered-before.Tampered, alerted)
		},
	}
}

// egressState reads the egress guard's state file inside the machine
// (its /run is the machine's own).
func (u *unitProber) egressState() (*egressstate.State, error) {
	out, errOut, code := u.s.m.Exec(u.t, "cat", egressstate.Path(u.s.f.name))
	if code != 0 {
		return nil, fmt.Errorf("%s", strings.TrimSpace(errOut))
	}
	var st egressstate.State
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// crashThenEgress is item 18: with the guard stopped and the table gone,
// dev's runner dies; its restarts fail the egress check. Two causes, two
// alerts, neither swallowed by the other's cooldown.
func (u *unitProber) crashThenEgress() *attempt {
	s := u.s
	unit := s.f.unit("agent-dev")
	return &attempt{
		name:     "[18] dev crashes and then fails its egress check",
		expected: "two alerts for dev (restarting, and its egress check); recovered once the table is back",
		run: func() (bool, string) {
			// dev's restart would pull the guard back in (agent units want
			// it) and the table would be restored: keep it from starting.
			unblock := blockGuard(u.t, s.m, s.f)
			sysDeleteTable(u.t, s.f)
			s.m.Exec(u.t, "systemctl", "kill", "-s", "KILL", "--kill-whom=main", unit)
			var raised []string
			both := poll(120*time.Second, func() bool {
				raised, _ = s.alerts(u.t, "agent dev")
				c := causes(raised)
				return strings.Contains(c, "restarting") && strings.Contains(c, "egress")
			})
			pre := s.m.Show(u.t, unit, "ExecStartPre")["ExecStartPre"]
			unblock()
			active := waitProp(u.t, s.m, unit, "ActiveState", 120*time.Second, func(v string) bool { return v == "active" })
			got := fmt.Sprintf("alerts: %s; dev afterwards: %s", causes(raised), active)
			if !both {
				got += "; ExecStartPre=" + pre + "; watchdog: " + u.watchdogLines("agent dev")
			}
			return both && active == "active", got
		},
	}
}

// watchdogLines are the watchdog's journal lines about subject.
func (u *unitProber) watchdogLines(subject string) string {
	var out []string
	for _, l := range strings.Split(u.s.m.Journal(u.t, u.s.f.unit("watchdog")), "\n") {
		if strings.Contains(l, `"subject":"`+subject+`"`) {
			out = append(out, l)
		}
	}
	return strings.Join(out, " | ")
}

// causes lists the "cause" of each alert line, in order.
func causes(lines []string) string {
	var cs []string
	for _, l := range lines {
		var rec struct {
			Cause string `json:"cause"`
		}
		if i := strings.Index(l, "{"); i >= 0 && json.Unmarshal([]byte(l[i:]), &rec) == nil {
			cs = append(cs, rec.Cause)
		}
	}
	return strings.Join(cs, ",")
}

// onePerCause: no cause alerted twice in one episode.
func onePerCause(lines []string) bool {
	seen := map[string]bool{}
	for _, c := range strings.Split(causes(lines), ",") {
		if seen[c] {
			return false
		}
		seen[c] = true
	}
	return true
}

// adminSockets: no daemon's admin socket (/healthz, /metrics, /reload) is
// reachable from an agent's unit; the control is the watchdog's user,
// for whom each one is (so the sockets are there and listening).
func (u *unitProber) adminSockets() *attempt {
	run := "/run/clem/" + u.s.f.name + "/"
	socks := []string{run + "pipelock/admin.sock", run + "vault/admin/admin.sock", run + "coord/admin/admin.sock",
		run + "watchdog/admin.sock", run + fleetSidecar + "/admin.sock"}
	return &attempt{
		name:     "[admin] connect to every daemon's admin socket from dev's unit",
		expected: "permission denied on each (the watchdog's user connects to each: the control)",
		run: func() (bool, string) {
			var got []string
			held := true
			for _, sock := range socks {
				o := u.run("dev", probe{Kind: "unix", Path: sock})
				spec, _ := json.Marshal(probe{Kind: "unix", Path: sock})
				out, _, _ := u.s.m.ExecAs(u.t, u.s.f.user("watchdog"), "env", probeEnv+"="+string(spec), u.probe)
				var ctl outcome
				json.Unmarshal([]byte(out), &ctl)
				if o.OK || !strings.Contains(o.Err, "permission denied") || !ctl.OK {
					held = false
				}
				got = append(got, fmt.Sprintf("%s: dev %s, watchdog ok=%v %s", filepath.Base(filepath.Dir(sock))+"/"+filepath.Base(sock), fmt.Sprintf("ok=%v %s", o.OK, o.Err), ctl.OK, ctl.Err))
			}
			return held, strings.Join(got, "; ")
		},
	}
}

// signerKeys: agent-vault's commit signer gives dev (an agent with no
// signing key) nothing: no key listed, no signature with the lead's key.
// The control is the lead, who lists its own key through the same socket.
func (u *unitProber) signerKeys() *attempt {
	sock := "/run/clem/" + u.s.f.name + "/vault/sign/agent.sock"
	home := "/home/" + u.s.f.user("dev")
	return &attempt{
		name:     "[signer] dev asks agent-vault's signer for keys and for a signature with the lead's key",
		expected: "no identities for dev, its signature refused (the lead lists its own key: the control)",
		run: func() (bool, string) {
			pub := home + "/lead-signing.pub"
			writeFile(u.t, pub, u.s.signingKey+"\n")
			uid, gid := userIDs(u.t, u.s.f.user("dev"))
			os.Chown(pub, int(uid), int(gid))
			script := "export SSH_AUTH_SOCK=" + sock + "; ssh-add -L 2>&1; echo list=$?; echo data > " + home + "/to-sign; " +
				"ssh-keygen -Y sign -n git -f " + pub + " -U " + home + "/to-sign 2>&1; echo sign=$?; rm -f " + home + "/to-sign.sig"
			o := u.run("dev", probe{Kind: "exec", Argv: []string{"/bin/sh", "-c", script}})
			ctl := u.run("lead", probe{Kind: "exec", Argv: []string{"/bin/sh", "-c", "SSH_AUTH_SOCK=" + sock + " ssh-add -L"}})
			held := strings.Contains(o.Body, "no identities") && strings.Contains(o.Body, "list=1") &&
				!strings.Contains(o.Body, "sign=0") && ctl.OK && strings.Contains(ctl.Body, u.s.signingKey)
			return held, fmt.Sprintf("dev: %s; lead (control): ok=%v %s", o.Body, ctl.OK, ctl.Body)
		},
	}
}
