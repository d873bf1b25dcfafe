package tests

import (
	"encoding/json"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"

	"github.com/clemhq/clem/shared/testutil/netns"
	"github.com/clemhq/clem/shared/testutil/systemdns"
)

// TestSystemBoot: real systemd boots as PID 1 of a private namespace with
// only whitelisted units, reaches running, and a clean poweroff leaves no
// cgroup, mount, process or state behind.
func TestSystemBoot(t *testing.T) {
	start := time.Now()
	m := systemdns.Boot(t, systemdns.Options{Name: uniqueProject("sys")})
	if st := strings.TrimSpace(m.Systemctl(t, "is-system-running")); st != "running" {
		t.Errorf("is-system-running = %q, want running; failed units:\n%s", st, m.Systemctl(t, "--failed", "--plain", "--no-legend"))
	}
	if out, _, _ := m.Exec(t, "cat", "/proc/1/comm"); strings.TrimSpace(out) != "systemd" {
		t.Errorf("PID 1 inside is %q, want systemd", out)
	}
	// Every unit with a file comes from the machine's own unit directory:
	// none of the host's (tmpfiles, sysctl, binfmt...) was pulled in.
	var id string
	for _, l := range strings.Split(m.Systemctl(t, "show", "*", "-p", "Id", "-p", "FragmentPath"), "\n") {
		if v, ok := strings.CutPrefix(l, "Id="); ok {
			id = v
		}
		if p, ok := strings.CutPrefix(l, "FragmentPath="); ok && p != "" && !strings.HasPrefix(p, "/etc/systemd/system/") {
			t.Errorf("unit %s loaded from %s, outside the whitelist", id, p)
		}
	}
	if left := m.Leftovers(); len(left) == 0 {
		t.Fatal("Leftovers finds nothing of a running machine: the check below would prove nothing")
	}
	m.Shutdown(t)
	if left := m.Leftovers(); len(left) > 0 {
		t.Errorf("left behind after a clean poweroff:\n%s", strings.Join(left, "\n"))
	}
	t.Logf("boot %v, whole cycle %v", m.BootTime.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// TestSystemUnits runs a provisioned one-agent project's real units under
// real systemd in the project's network namespace: pipelock becomes ready
// (Type=notify) as its user and reloads on `systemctl reload`; agent-vault
// gets its secret through LoadCredential=; the agent's unit runs its
// egress check as root before anything else and refuses to start once the
// egress table is gone.
func TestSystemUnits(t *testing.T) {
	start := time.Now()
	f := newFleet(t, "")
	f.provisionForSystemd(t)
	m := f.boot(t)
	pipelock, vault, agent := f.unit("pipelock"), f.unit("vault"), f.unit("agent-lead")

	t.Run("pipelock ready as its user", func(t *testing.T) {
		if out, errOut, code := m.Exec(t, "systemctl", "start", pipelock); code != 0 {
			t.Fatalf("systemctl start %s: exit %d\n%s%s\n%s", pipelock, code, out, errOut, m.Journal(t, ""))
		}
		p := m.Show(t, pipelock, "Type", "ActiveState", "SubState", "MainPID", "StatusText", "NRestarts")
		if p["Type"] != "notify" || p["ActiveState"] != "active" || p["SubState"] != "running" {
			t.Fatalf("%s after start: %v\n%s", pipelock, p, m.Journal(t, pipelock))
		}
		if u := procUser(t, m, p["MainPID"]); u != f.user("pipelock") {
			t.Errorf("pipelock runs as %q, want %s", u, f.user("pipelock"))
		}
		// READY came after the listener was bound, in this network namespace.
		addr := regexp.MustCompile(`serving on (\S+),`).FindStringSubmatch(p["StatusText"])
		if addr == nil {
			t.Fatalf("pipelock's status %q names no listener", p["StatusText"])
		}
		netns.In(t, f.netns, func() {
			c, err := net.DialTimeout("tcp", addr[1], 2*time.Second)
			if err != nil {
				t.Errorf("pipelock is ready but %s refuses in the fleet's namespace: %v", addr[1], err)
				return
			}
			c.Close()
		})
	})

	t.Run("agent-vault loads its credential", func(t *testing.T) {
		if out, errOut, code := m.Exec(t, "systemctl", "start", vault); code != 0 {
			t.Fatalf("systemctl start %s: exit %d\n%s%s\n%s", vault, code, out, errOut, m.Journal(t, vault))
		}
		p := m.Show(t, vault, "Type", "ActiveState", "SubState", "MainPID")
		if p["Type"] != "notify" || p["ActiveState"] != "active" || p["SubState"] != "running" {
			t.Fatalf("%s after start: %v\n%s", vault, p, m.Journal(t, vault))
		}
		if u := procUser(t, m, p["MainPID"]); u != f.user("vault") {
			t.Errorf("agent-vault runs as %q, want %s", u, f.user("vault"))
		}
		cred := "/run/credentials/" + vault + "/anthropic_api_key"
		if got, want := fileState(t, m, cred), f.user("vault")+" 400"; got != want {
			t.Errorf("%s: %q, want %q", cred, got, want)
		}
		if out, _, _ := m.Exec(t, "cat", cred); out != f.secret {
			t.Errorf("%s holds %d bytes, want the vault's key", cred, len(out))
		}
		if _, _, code := m.ExecAs(t, f.user("lead"), "cat", cred); code == 0 {
			t.Errorf("the agent read agent-vault's credential %s", cred)
		}
	})

	t.Run("pipelock reloads", func(t *testing.T) {
		before := m.Show(t, pipelock, "MainPID")["MainPID"]
		m.Systemctl(t, "reload", pipelock)
		if j, ok := waitJournal(t, m, pipelock, `"msg":"reloaded"`, 10*time.Second); !ok {
			t.Errorf("no reload in pipelock's journal:\n%s", j)
		}
		p := m.Show(t, pipelock, "ActiveState", "MainPID", "NRestarts")
		if p["ActiveState"] != "active" || p["MainPID"] != before || p["NRestarts"] != "0" {
			t.Errorf("after reload: %v, want active, MainPID %s, no restart", p, before)
		}
	})

	t.Run("agent refuses to start without its egress table", func(t *testing.T) {
		// Control: with the table in place the egress check passes.
		m.Systemctl(t, "start", "--no-block", agent)
		pre := waitProp(t, m, agent, "ExecStartPre", 30*time.Second, func(v string) bool { return ranRE.MatchString(v) })
		if !strings.Contains(pre, "code=exited ; status=0 ") {
			t.Fatalf("with the table in place, the egress check: %s\n%s", pre, m.Journal(t, agent))
		}
		m.Systemctl(t, "stop", agent)
		m.Exec(t, "systemctl", "reset-failed", agent)

		// The agent's start would pull the egress guard in, and the guard
		// would put the table back: keep it from starting.
		defer blockGuard(t, m, f)()
		sysDeleteTable(t, f)
		out, errOut, code := m.Exec(t, "systemctl", "start", agent)
		if code == 0 {
			t.Fatalf("systemctl start %s succeeded without the egress table:\n%s%s", agent, out, errOut)
		}
		p := m.Show(t, agent, "ExecStartPre", "ExecStart", "Result", "ExecMainPID")
		if !regexp.MustCompile(`code=exited ; status=[1-9]`).MatchString(p["ExecStartPre"]) {
			t.Errorf("ExecStartPre = %s, want a non-zero exit", p["ExecStartPre"])
		}
		if p["ExecMainPID"] != "0" || !strings.Contains(p["ExecStart"], "pid=0 ") {
			t.Errorf("the runner started after a failed egress check: ExecMainPID=%s ExecStart=%s", p["ExecMainPID"], p["ExecStart"])
		}
		if p["Result"] != "exit-code" {
			t.Errorf("Result = %s, want exit-code", p["Result"])
		}
		j, ok := waitJournal(t, m, agent, "egress verify:", 10*time.Second)
		if !ok {
			t.Errorf("no egress verify error in the agent's journal:\n%s", j)
		}
		for _, l := range strings.Split(j, "\n") {
			if strings.Contains(l, "egress verify:") {
				t.Logf("refused: %s", l)
			}
		}
		t.Logf("ExecStartPre=%s", p["ExecStartPre"])
		t.Logf("ExecStart=%s", p["ExecStart"])
	})
	t.Logf("boot %v, whole test %v", m.BootTime.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// ranRE matches a command systemd ran to the end (systemctl show's
// Exec* properties say code=(null) before).
var ranRE = regexp.MustCompile(`code=(exited|killed|dumped)`)

// sysDeleteTable removes the project's egress table from the fleet's network
// namespace, as a root process there would (there is no `clem egress
// delete`), and checks it is gone: call it with the egress guard stopped
// (blockGuard), or the guard puts the table back at once.
func sysDeleteTable(t *testing.T, f *fleet) {
	t.Helper()
	deleteTable(t, f, true)
}

// deleteTable deletes the project's egress table; with check, it also
// checks the table is gone.
func deleteTable(t *testing.T, f *fleet, check bool) {
	t.Helper()
	b, err := os.ReadFile("/etc/clem/" + f.name + "/egress.json")
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Table string `json:"table"`
	}
	if err := json.Unmarshal(b, &spec); err != nil || spec.Table == "" {
		t.Fatalf("egress.json: table %q, %v", spec.Table, err)
	}
	netns.In(t, f.netns, func() {
		c, err := nftables.New()
		if err != nil {
			t.Fatal(err)
		}
		c.DelTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: spec.Table})
		if err := c.Flush(); err != nil {
			t.Fatalf("delete table inet %s: %v", spec.Table, err)
		}
		if !check {
			return
		}
		tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
		if err != nil {
			t.Fatal(err)
		}
		for _, tb := range tables {
			if tb.Name == spec.Table {
				t.Fatalf("table inet %s still exists", spec.Table)
			}
		}
	})
}
