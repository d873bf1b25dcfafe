package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/testutil/systemdns"
)

// provisionForSystemd provisions the fleet with its units running the
// test binaries from a directory outside /tmp: every clem unit has
// PrivateTmp=, which hides the machine's /tmp (and binDir in it) from the
// service. The directory holds hard links (copies across file systems) and
// goes when the test ends, after the machine.
func (f *fleet) provisionForSystemd(t *testing.T) {
	t.Helper()
	bin, err := os.MkdirTemp("/var/lib", "clem-systest-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(bin) })
	f.sysBin = bin
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range Binaries {
		src, dst := filepath.Join(binDir, b), filepath.Join(bin, b)
		if err := os.Link(src, dst); err != nil {
			if err := copyFile(src, dst, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	args := []string{"provision", "--templates", filepath.Join(repoRoot, "systemd"), "--bin-dir", bin}
	if r := f.clem(t, args...); r.code != 0 {
		t.Fatalf("clem %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
}

// exportForUnits copies the test binary where a unit can run it (the
// fleet's sidecar child): outside /tmp, which PrivateTmp= hides, in a
// directory every user may enter. It goes when the test ends.
func exportForUnits(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/var/lib", "clem-systest-child-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "clem-test-child")
	if err := copyFile(self, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

// boot starts real systemd as PID 1 of a private namespace inside the
// fleet's network namespace, with the units provision wrote for the project
// (and no other unit of the host) and the project's runtime directories
// made from its tmpfiles.d file, as systemd-tmpfiles-setup.service does at
// a real boot. Call it after f.provisionForSystemd. The machine reads
// copies of the account files taken now: after provisioning more users,
// call m.RefreshPasswd. It is powered off before the fleet is
// deprovisioned (t.Cleanup runs last-in first-out).
func (f *fleet) boot(t *testing.T) *systemdns.Machine {
	t.Helper()
	return f.bootWith(t, systemdns.Options{Passwd: true})
}

// bootWith is boot with more options (D-Bus for the watchdog, binds); the
// name, network namespace and units are the fleet's.
func (f *fleet) bootWith(t *testing.T, o systemdns.Options) *systemdns.Machine {
	t.Helper()
	units := t.TempDir()
	var found []string
	for _, pat := range []string{"clem-" + f.name + ".target", "clem-" + f.name + "-*"} {
		m, _ := filepath.Glob(filepath.Join("/etc/systemd/system", pat))
		found = append(found, m...)
	}
	if len(found) == 0 {
		t.Fatalf("no units of project %s in /etc/systemd/system: provision first", f.name)
	}
	for _, p := range found {
		if err := copyFile(p, filepath.Join(units, filepath.Base(p)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o.Name, o.NetNS, o.Units = "clem-"+f.name, f.netns, units
	m := systemdns.Boot(t, o)
	conf := "/etc/tmpfiles.d/clem-" + f.name + ".conf"
	if out, errOut, code := m.Exec(t, "systemd-tmpfiles", "--create", conf); code != 0 {
		t.Fatalf("systemd-tmpfiles --create %s: exit %d\n%s%s", conf, code, out, errOut)
	}
	return m
}

func (f *fleet) unit(role string) string { return "clem-" + f.name + "-" + role + ".service" }

// waitProp polls unit's property until ok accepts it or d passes, and
// returns the last value; the caller judges it.
func waitProp(t *testing.T, m *systemdns.Machine, unit, prop string, d time.Duration, ok func(string) bool) string {
	t.Helper()
	var v string
	poll(d, func() bool { v = m.Show(t, unit, prop)[prop]; return ok(v) })
	return v
}

// waitJournal polls unit's journal until it contains want or d passes.
func waitJournal(t *testing.T, m *systemdns.Machine, unit, want string, d time.Duration) (string, bool) {
	t.Helper()
	var j string
	found := poll(d, func() bool { j = m.Journal(t, unit); return strings.Contains(j, want) })
	return j, found
}

// procUser is the owner (the effective uid's name) of the process with pid
// as the machine numbers it.
func procUser(t *testing.T, m *systemdns.Machine, pid string) string {
	t.Helper()
	out, errOut, code := m.Exec(t, "stat", "-c", "%U", "/proc/"+pid)
	if code != 0 {
		t.Fatalf("stat /proc/%s inside: exit %d: %s", pid, code, errOut)
	}
	return strings.TrimSpace(out)
}

// fileState is `stat -c '%U %a'` of path inside the machine, or "" when
// root cannot stat it.
func fileState(t *testing.T, m *systemdns.Machine, path string) string {
	t.Helper()
	out, _, code := m.Exec(t, "stat", "-c", "%U %a", path)
	if code != 0 {
		return ""
	}
	return strings.TrimSpace(out)
}

// blockGuard stops the project's egress guard and keeps it from starting
// again (agent units want it) with a runtime drop-in whose ExecStartPre
// fails, until the returned func lifts the block and starts it. (A runtime
// mask loses to the unit file in /etc/systemd/system here.)
func blockGuard(t *testing.T, m *systemdns.Machine, f *fleet) (unblock func()) {
	t.Helper()
	guard := "clem-" + f.name + "-egress.service"
	dropin := "/run/systemd/system/" + guard + ".d/clem-test-block.conf"
	m.Exec(t, "mkdir", "-p", filepath.Dir(dropin))
	m.Exec(t, "sh", "-c", "printf '[Service]\\nExecStartPre=/bin/false\\n' > "+dropin)
	m.Systemctl(t, "daemon-reload")
	m.Systemctl(t, "stop", guard)
	return func() {
		m.Exec(t, "rm", "-rf", filepath.Dir(dropin))
		m.Systemctl(t, "daemon-reload")
		m.Exec(t, "systemctl", "reset-failed", guard)
		m.Systemctl(t, "start", guard)
	}
}

// mountSmallDisks puts pipelock's and coord's state directories (the audit
// log; the board) on small tmpfs mounts of their own, as separate disks
// would be, so the fault matrix can fill them; the machine sees them
// (/var/lib is the host's). Call it after provisioning, before boot: the
// directories keep their owner, mode and contents. They are unmounted
// after the machine powers off and before the fleet is deprovisioned.
func mountSmallDisks(t *testing.T, f *fleet) {
	t.Helper()
	for role, size := range map[string]string{"pipelock": pipelockDiskSize, "coord": coordDiskSize} {
		dir := "/var/lib/clem/" + f.name + "/" + role
		st, err := os.Stat(dir)
		if err != nil {
			t.Fatalf("small disk for %s: %v", role, err)
		}
		sys := st.Sys().(*syscall.Stat_t)
		keep := t.TempDir()
		cmdOut(t, "cp", "-a", dir+"/.", keep)
		cmdOut(t, "mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%s,mode=%o,uid=%d,gid=%d", size, st.Mode().Perm(), sys.Uid, sys.Gid), "clem-faults-"+role, dir)
		t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
		cmdOut(t, "cp", "-a", keep+"/.", dir)
	}
}

// cmdOut runs a command on the host and fails the test when it fails.
func cmdOut(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
