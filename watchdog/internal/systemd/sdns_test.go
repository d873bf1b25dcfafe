package systemd

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A minimal, test-only harness that boots real systemd as PID 1 of private
// namespaces (pid, mount, uts, ipc, net, cgroup), following
// shared/SYSTEMD-NS.md, with Debian's dbus for the system bus. The
// project-wide harness lives in tests/systemdns; this one only serves the
// reader's test.

// sdns is one booted instance.
type sdns struct {
	t      *testing.T
	dir    string // host directory, /run/wdns inside
	cgroup string
	pid    int // systemd's host pid
	script *exec.Cmd
}

// helperUID is the unprivileged uid the reader runs as inside: nobody,
// which the host's passwd has. dbus-daemon drops callers it cannot look up,
// and a bind-mounted copy of /etc/passwd with a test user would break when
// another test on the host replaces the file (useradd renames over it, and
// the kernel then drops the bind in every other namespace).
const helperUID = 65534

// bootSystemd boots an instance with the given extra units and returns once
// systemd reports running or degraded. Everything is removed in t.Cleanup.
func bootSystemd(t *testing.T, units map[string]string) *sdns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("booting systemd in a private namespace needs root (CI runs as root)")
	}
	for _, bin := range []string{"/lib/systemd/systemd", "/usr/bin/dbus-daemon", "/lib/systemd/system/dbus.socket"} {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("%s is missing: install systemd and dbus (apt-get install -y systemd dbus)", bin)
		}
	}
	for _, tool := range []string{"unshare", "nsenter", "setpriv", "script"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing (util-linux, bsdutils)", tool)
		}
	}
	dir, err := os.MkdirTemp("", "wdns-")
	if err != nil {
		t.Fatal(err)
	}
	s := &sdns{t: t, dir: dir}
	t.Cleanup(s.cleanup)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"system", "bin"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s.writeUnits(units)
	inner, err := os.ReadFile("testdata/sdns-inner.sh")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "inner.sh"), inner, 0o755); err != nil {
		t.Fatal(err)
	}
	s.cgroup = ownCgroup(t, filepath.Base(dir))
	if err := os.Mkdir(s.cgroup, 0o755); err != nil {
		t.Fatalf("create cgroup: %v", err)
	}

	// script(1) gives the instance a pty for /dev/console. --kill-child:
	// if unshare dies, the whole PID namespace dies with it.
	s.script = exec.Command("script", "-qfec",
		"unshare -p -f -m -u -i -n --propagation private --kill-child=SIGKILL /bin/sh "+filepath.Join(dir, "inner.sh"),
		filepath.Join(dir, "console.log"))
	s.script.Env = append(os.Environ(), "S="+dir, "CG="+s.cgroup)
	if err := s.script.Start(); err != nil {
		t.Fatalf("start script: %v", err)
	}
	exited := make(chan struct{})
	go func() { s.script.Wait(); close(exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "pid"))
		if err == nil {
			if s.pid, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
				t.Fatalf("pid file: %v", err)
			}
			break
		}
		select {
		case <-exited:
			t.Fatalf("the namespace's setup failed; console:\n%s", s.console())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the namespace did not start; console:\n%s", s.console())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for {
		out, _ := s.exec("systemctl", "is-system-running").Output()
		st := strings.TrimSpace(string(out))
		if st == "running" || st == "degraded" {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("systemd did not come up (state %q); console:\n%s", st, s.console())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *sdns) console() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "console.log"))
	return string(b)
}

// exec returns a command running argv as root inside the instance.
func (s *sdns) exec(argv ...string) *exec.Cmd {
	args := append([]string{"-t", strconv.Itoa(s.pid), "-m", "-u", "-i", "-n", "-p", "-C", "--wd=/", "--",
		"env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "SYSTEMD_PAGER=cat"}, argv...)
	return exec.Command("nsenter", args...)
}

// run runs argv as root inside and fails the test on error.
func (s *sdns) run(argv ...string) string {
	s.t.Helper()
	out, err := s.exec(argv...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// asUser returns a command running argv inside as the unprivileged test
// user, with env as its only environment.
func (s *sdns) asUser(env []string, argv ...string) *exec.Cmd {
	id := strconv.Itoa(helperUID)
	full := append([]string{"setpriv", "--reuid=" + id, "--regid=" + id, "--clear-groups", "--reset-env", "env"}, env...)
	return s.exec(append(full, argv...)...)
}

// installBinary copies the running test binary where the instance sees it
// and returns its path inside.
func (s *sdns) installBinary() string {
	s.t.Helper()
	self, err := os.Executable()
	if err != nil {
		s.t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		s.t.Fatal(err)
	}
	name := filepath.Base(self)
	if err := os.WriteFile(filepath.Join(s.dir, "bin", name), data, 0o755); err != nil {
		s.t.Fatal(err)
	}
	return "/run/wdns/bin/" + name
}

func (s *sdns) cleanup() {
	if s.pid > 0 {
		syscall.Kill(s.pid, syscall.SIGKILL) // PID 1 of the namespace: all of it dies
	}
	if s.script != nil && s.script.Process != nil {
		s.script.Process.Kill()
	}
	if s.cgroup != "" {
		for i := 0; i < 200; i++ {
			os.WriteFile(filepath.Join(s.cgroup, "cgroup.kill"), []byte("1"), 0)
			removeTree(s.cgroup)
			if _, err := os.Stat(s.cgroup); os.IsNotExist(err) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := os.Stat(s.cgroup); err == nil {
			s.t.Errorf("could not remove cgroup %s", s.cgroup)
		}
	}
	if s.t.Failed() {
		s.t.Logf("console of the namespace:\n%s", s.console())
	}
	os.RemoveAll(s.dir)
}

// removeTree removes a cgroup directory tree, deepest first.
func removeTree(dir string) {
	var dirs []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Remove(dirs[i])
	}
}

// ownCgroup is a fresh cgroup v2 directory below this process's own.
func ownCgroup(t *testing.T, name string) string {
	t.Helper()
	mnt := ""
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if ok && strings.HasPrefix(post, "cgroup2 ") {
			mnt = strings.Fields(pre)[4]
			break
		}
	}
	if mnt == "" {
		t.Fatalf("no cgroup2 mount: systemd in a namespace needs one (unified or hybrid host)")
	}
	cg, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	own := "/"
	for _, l := range strings.Split(string(cg), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			own = p
		}
	}
	return filepath.Join(mnt, own, name)
}

// writeUnits writes the instance's whole unit path: stub targets, copies
// of journald, dbus and the shutdown units (nothing else of the host's is
// on the unit path), and the test's units.
func (s *sdns) writeUnits(units map[string]string) {
	s.t.Helper()
	d := filepath.Join(s.dir, "system")
	write := func(name, text string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(d, name)), 0o755); err != nil {
			s.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, name), []byte(text), 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
	write("sysinit.target", "[Unit]\nDefaultDependencies=no\nWants=systemd-journald.service\nAfter=systemd-journald.service\n")
	write("basic.target", "[Unit]\nDefaultDependencies=no\nRequires=sysinit.target\nWants=sockets.target\nAfter=sysinit.target sockets.target\n")
	write("sockets.target", "[Unit]\nDefaultDependencies=no\nWants=systemd-journald.socket systemd-journald-dev-log.socket dbus.socket\n")
	write("wdns.target", "[Unit]\nRequires=basic.target\nAfter=basic.target\nAllowIsolate=yes\n")
	jd, err := os.ReadFile("/lib/systemd/system/systemd-journald.service")
	if err != nil {
		s.t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(jd), "\n") {
		if strings.HasPrefix(l, "Sockets=") {
			l = "Sockets=systemd-journald.socket systemd-journald-dev-log.socket"
		}
		out = append(out, l)
	}
	write("systemd-journald.service", strings.Join(out, "\n"))
	for _, u := range []string{"systemd-journald.socket", "systemd-journald-dev-log.socket", "dbus.socket", "dbus.service",
		"shutdown.target", "umount.target", "final.target", "exit.target", "systemd-exit.service",
		"poweroff.target", "systemd-poweroff.service", "halt.target", "systemd-halt.service"} {
		b, err := os.ReadFile("/lib/systemd/system/" + u)
		if err != nil {
			s.t.Fatal(err)
		}
		write(u, string(b))
	}
	// Setup mounts vanish with the mount namespace; without this, shutdown
	// would unmount them while services still stop.
	for _, m := range []string{"etc-systemd-system", "tmp", "var-tmp", "run-wdns"} {
		write(m+".mount.d/keep.conf", "[Unit]\nDefaultDependencies=no\n")
	}
	for name, text := range units {
		write(name, text)
	}
}

// waitFor polls cond every 20 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
