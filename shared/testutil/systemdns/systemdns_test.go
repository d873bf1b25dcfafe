package systemdns

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/clemhq/clem/shared/testutil/users"
)

func uniqueName(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// TestMachine boots a machine with D-Bus and a bound directory under /tmp,
// and checks what the harness promises: a private /tmp with the bind in it
// (read-only), a user added on the host after boot visible at once (the
// live account files), LoadCredential= for a User= unit, an unprivileged
// D-Bus reader that cannot stop units, and nothing left after Shutdown.
func TestMachine(t *testing.T) {
	bin := t.TempDir() // under /tmp: covered by the machine's own /tmp
	os.Chmod(bin, 0o755)
	writeFile(t, filepath.Join(bin, "marker"), "from the host\n", 0o644)
	writeFile(t, filepath.Join(bin, "token"), "s3cret-token\n", 0o600)
	hidden := filepath.Join(t.TempDir(), "hidden")
	writeFile(t, hidden, "x", 0o644)

	m := Boot(t, Options{Name: uniqueName("sdt"), Dbus: true, Binds: []string{bin}})
	u := users.Add(t, "sdt")
	if out, errOut, code := m.ExecAs(t, u.Name, "id", "-un"); code != 0 || strings.TrimSpace(out) != u.Name {
		t.Errorf("id -un as %s (added after boot) = %q, exit %d: %s", u.Name, out, code, errOut)
	}
	if out, _, _ := m.Exec(t, "cat", filepath.Join(bin, "marker")); out != "from the host\n" {
		t.Errorf("bound %s inside holds %q", bin, out)
	}
	if _, _, code := m.Exec(t, "test", "-e", hidden); code == 0 {
		t.Errorf("%s (host /tmp) is visible inside: /tmp is not private", hidden)
	}
	if _, _, code := m.Exec(t, "touch", filepath.Join(bin, "w")); code == 0 {
		t.Errorf("bound %s is writable inside", bin)
	}

	// LoadCredential= of a root-only file, for a unit running as the user.
	const unit = "sdt-cred.service"
	m.WriteUnit(t, unit, "[Service]\nType=oneshot\nRemainAfterExit=yes\nUser="+u.Name+
		"\nLoadCredential=token:"+filepath.Join(bin, "token")+"\nExecStart=/bin/sh -c 'cat \"$CREDENTIALS_DIRECTORY/token\"'\n")
	m.Systemctl(t, "start", unit)
	if j := m.Journal(t, unit); !strings.Contains(j, "s3cret-token") {
		t.Errorf("the unit did not read its credential:\n%s", j)
	}

	// An unprivileged user reads unit properties over the system bus and
	// may not change anything.
	out, errOut, code := m.ExecAs(t, u.Name, "systemctl", "show", "-p", "ActiveState", unit)
	if code != 0 || strings.TrimSpace(out) != "ActiveState=active" {
		t.Errorf("systemctl show as %s = %q, exit %d: %s", u.Name, out, code, errOut)
	}
	if _, _, code := m.ExecAs(t, u.Name, "systemctl", "stop", unit); code == 0 {
		t.Errorf("an unprivileged user stopped %s", unit)
	}

	if left := m.Leftovers(); len(left) < 3 {
		t.Errorf("Leftovers of a running machine = %q, want its cgroup, state and processes", left)
	}
	m.Shutdown(t)
	if !strings.Contains(m.Console(), "Reached target") {
		t.Errorf("the console shows no status lines:\n%s", m.Console())
	}
	t.Logf("console tail:\n%s", tail(m.Console(), 6))
	if left := m.Leftovers(); len(left) > 0 {
		t.Errorf("left behind after Shutdown:\n%s", strings.Join(left, "\n"))
	}
}

// forkLoop forks children that hold a task each until fork fails or it has
// ARGV[1] of them, writes "forked N" and why it stopped to ARGV[0], and
// exits, leaving the children in the unit's cgroup. perl is Essential on
// Debian and is one single-threaded task: a Go helper's runtime threads
// count as tasks too and the runtime dies when it cannot make one.
const forkLoop = `use strict;
my ($out, $max) = @ARGV;
my ($n, $why) = (0, "cap");
while ($n < $max) {
  my $pid = fork;
  if (!defined $pid) { $why = $!{EAGAIN} ? "EAGAIN" : "errno " . ($! + 0); last }
  if ($pid == 0) { sleep 1000 while 1 }
  $n++;
}
open(my $f, ">", $out) or die "open $out: $!";
print $f "forked $n $why\n";
close $f;
`

// alloc fills ARGV[0] MiB of memory, touching every page, then exits 0.
const alloc = `my $s = "x" x ($ARGV[0] * 1024 * 1024); print length($s), "\n";`

// spin burns ARGV[1] seconds of CPU time (not wall time), then writes
// its cgroup's cpu.stat (cgroup v1: the machine's /sys/fs/cgroup/cpu) to
// ARGV[0].
const spin = `my ($out, $secs) = @ARGV;
while (1) { my ($u, $s) = times; last if $u + $s >= $secs }
open(my $c, "<", "/proc/self/cgroup") or die $!;
my ($path) = map { /^\d+:[^:]*\bcpu\b[^:]*:(.*)$/ ? $1 : () } <$c>;
open(my $st, "<", "/sys/fs/cgroup/cpu$path/cpu.stat") or die "cpu.stat of $path: $!";
open(my $f, ">", $out) or die $!;
print {$f} <$st>;
`

// TestLimits: the machine's systemd enforces TasksMax=, MemoryMax= and
// CPUQuota=. An unprivileged unit forking without end stops at TasksMax=16
// with EAGAIN; one allocating 200 MiB under MemoryMax=32M is killed; one
// burning 0.1 s of CPU under CPUQuota=10% is throttled (its 10 ms a
// 100 ms period run out). The controls, the same units without the limits,
// fork all 64 children, allocate it all and are never throttled: the
// limits, not the scripts, stop them. It fails where the machine has no
// pids, memory or cpu controller (see Controllers).
func TestLimits(t *testing.T) {
	bin := t.TempDir()
	os.Chmod(bin, 0o755)
	writeFile(t, filepath.Join(bin, "forkloop.pl"), forkLoop, 0o644)
	writeFile(t, filepath.Join(bin, "alloc.pl"), alloc, 0o644)
	writeFile(t, filepath.Join(bin, "spin.pl"), spin, 0o644)
	m := Boot(t, Options{Name: uniqueName("sdt"), Binds: []string{bin}})
	u := users.Add(t, "sdt")

	ctrls, err := m.Controllers()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("controllers: %v", ctrls)
	for _, c := range []string{"pids", "memory", "cpu"} {
		if !slices.Contains(ctrls, c) {
			t.Errorf("Controllers() = %v: no %s (its limits are accepted and not enforced)", ctrls, c)
		}
	}

	for _, tc := range []struct {
		name, tasksMax string
		want           string // what forkloop.pl reports
		maxTasks       int    // TasksCurrent at most
	}{
		{"limited", "16", "forked 15 EAGAIN", 16},
		{"control", "infinity", "forked 64 cap", 64},
	} {
		t.Run("TasksMax/"+tc.name, func(t *testing.T) {
			unit := "sdt-tasks-" + tc.name + ".service"
			m.WriteUnit(t, unit, "[Service]\nType=oneshot\nRemainAfterExit=yes\nUser="+u.Name+
				"\nTasksMax="+tc.tasksMax+"\nRuntimeDirectory="+strings.TrimSuffix(unit, ".service")+
				"\nExecStart=/usr/bin/perl "+filepath.Join(bin, "forkloop.pl")+" %t/"+strings.TrimSuffix(unit, ".service")+"/result 64\n")
			m.Systemctl(t, "start", unit)
			defer m.Systemctl(t, "stop", unit)
			out, errOut, code := m.Exec(t, "cat", "/run/"+strings.TrimSuffix(unit, ".service")+"/result")
			if code != 0 || strings.TrimSpace(out) != tc.want {
				t.Errorf("fork loop with TasksMax=%s reported %q (exit %d %s), want %q\n%s",
					tc.tasksMax, out, code, errOut, tc.want, m.Journal(t, unit))
			}
			cur, err := strconv.Atoi(m.Show(t, unit, "TasksCurrent")["TasksCurrent"])
			if err != nil || cur < 1 || cur > tc.maxTasks {
				t.Errorf("TasksCurrent with TasksMax=%s = %d (%v), want 1..%d", tc.tasksMax, cur, err, tc.maxTasks)
			}
		})
	}

	for _, tc := range []struct {
		name, memoryMax string
		killed          bool
	}{
		{"limited", "32M", true},
		{"control", "infinity", false},
	} {
		t.Run("MemoryMax/"+tc.name, func(t *testing.T) {
			unit := "sdt-mem-" + tc.name + ".service"
			m.WriteUnit(t, unit, "[Service]\nType=oneshot\nUser="+u.Name+"\nMemoryMax="+tc.memoryMax+
				"\nExecStart=/usr/bin/perl "+filepath.Join(bin, "alloc.pl")+" 200\n")
			_, _, code := m.Exec(t, "systemctl", "start", unit)
			p := m.Show(t, unit, "Result", "ExecMainCode", "ExecMainStatus")
			// cgroup v1 has no memory.events: systemd sees the kernel's
			// OOM kill as SIGKILL (Result=signal), on cgroup2 as oom-kill.
			killed := (p["Result"] == "oom-kill" || p["Result"] == "signal") && p["ExecMainStatus"] == "9"
			if killed != tc.killed || (code == 0) == tc.killed {
				t.Errorf("allocating 200 MiB with MemoryMax=%s: start exit %d, %v; want killed=%v (with swap, v1 swaps instead)\n%s",
					tc.memoryMax, code, p, tc.killed, m.Journal(t, unit))
			}
		})
	}

	for _, tc := range []struct {
		name, cpuQuota string
		throttled      bool
	}{
		{"limited", "10%", true},
		{"control", "", false},
	} {
		t.Run("CPUQuota/"+tc.name, func(t *testing.T) {
			unit := "sdt-cpu-" + tc.name
			m.WriteUnit(t, unit+".service", "[Service]\nType=oneshot\nRemainAfterExit=yes\nUser="+u.Name+
				"\nCPUQuota="+tc.cpuQuota+"\nRuntimeDirectory="+unit+
				"\nExecStart=/usr/bin/perl "+filepath.Join(bin, "spin.pl")+" %t/"+unit+"/result 0.1\n")
			if out, errOut, code := m.Exec(t, "systemctl", "start", unit+".service"); code != 0 {
				t.Fatalf("start %s: exit %d %s%s\n%s", unit, code, out, errOut, m.Journal(t, unit+".service"))
			}
			defer m.Systemctl(t, "stop", unit+".service")
			out, errOut, code := m.Exec(t, "cat", "/run/"+unit+"/result")
			var n int
			for _, l := range strings.Split(out, "\n") {
				if v, ok := strings.CutPrefix(l, "nr_throttled "); ok {
					n, _ = strconv.Atoi(v)
				}
			}
			if code != 0 || (n > 0) != tc.throttled {
				t.Errorf("cpu.stat after 0.1 s of CPU with CPUQuota=%q: %q (exit %d %s); want throttled=%v\n%s",
					tc.cpuQuota, out, code, errOut, tc.throttled, m.Journal(t, unit+".service"))
			}
		})
	}
}

// TestPasswdCopies: with Options.Passwd the machine's account files are
// bound copies; a user added on the host is there after RefreshPasswd,
// which also binds the copies again where the host's rename detached them.
func TestPasswdCopies(t *testing.T) {
	m := Boot(t, Options{Name: uniqueName("sdt"), Passwd: true})
	// The binds are checked while no one can replace the host's files:
	// tests of other packages add and remove host users meanwhile, and a
	// rename over /etc/passwd detaches the machine's bind of it.
	bound := func() bool {
		_, _, code := m.Exec(t, "findmnt", "/etc/passwd")
		return code == 0
	}
	accountsLocked(t, func() {
		m.RefreshPasswd(t)
		if !bound() {
			t.Fatalf("/etc/passwd inside is not a bind of the copy")
		}
	})
	u := users.Add(t, "sdt")
	accountsLocked(t, func() {
		m.RefreshPasswd(t)
		if !bound() {
			t.Errorf("/etc/passwd inside is not bound after RefreshPasswd")
		}
		for _, f := range []string{"passwd", "group", "shadow", "gshadow"} {
			if out, errOut, code := m.Exec(t, "grep", "-c", "^"+u.Name+":", "/etc/"+f); code != 0 || strings.TrimSpace(out) != "1" {
				t.Errorf("/etc/%s inside after RefreshPasswd: %q, exit %d: %s", f, out, code, errOut)
			}
		}
	})
	if out, errOut, code := m.ExecAs(t, u.Name, "id", "-un"); code != 0 || strings.TrimSpace(out) != u.Name {
		t.Errorf("id -un as %s = %q, exit %d: %s", u.Name, out, code, errOut)
	}
}

// accountsLocked runs fn holding the host's account-file lock, the one
// lckpwdf(3) takes (an fcntl write lock on /etc/.pwd.lock): useradd,
// userdel and groupadd wait on it before they rename a new /etc/passwd
// into place, so nothing detaches the machine's binds while fn runs.
func accountsLocked(t *testing.T, fn func()) {
	t.Helper()
	f, err := os.OpenFile("/etc/.pwd.lock", os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() // closing releases the lock
	lk := syscall.Flock_t{Type: syscall.F_WRLCK}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLKW, &lk); err != nil {
		t.Fatalf("lock /etc/.pwd.lock: %v", err)
	}
	fn()
}

// TestEscapePath matches systemd-escape --path, which names mount units.
func TestEscapePath(t *testing.T) {
	for _, p := range []string{"/etc/passwd", "/tmp", "/", "/tmp/clem-tests-bin-123/x", "/a/.b", "/.hidden", "/x y/é", "/a-b/c_d:e"} {
		want, err := exec.Command("systemd-escape", "--path", p).Output()
		if err != nil {
			t.Fatalf("systemd-escape --path %q: %v", p, err)
		}
		if got := escapePath(p); got != strings.TrimSpace(string(want)) {
			t.Errorf("escapePath(%q) = %q, want %q", p, got, strings.TrimSpace(string(want)))
		}
	}
}

func writeFile(t *testing.T, path, body string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
}

func tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
