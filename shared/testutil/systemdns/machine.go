package systemdns

import (
	"bufio"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

//go:embed inner.sh
var innerScript string

// Options describe a machine.
type Options struct {
	// Name is unique among running machines: the cgroup directory's name
	// and part of the state directory's. Letters, digits, '.', '_', '-'.
	Name string
	// NetNS is a named network namespace (a path, from
	// shared/testutil/netns.NewNamed) for systemd and everything it starts;
	// "" gives the machine a fresh one with only lo (systemd brings it up).
	NetNS string
	// Units is a directory whose contents are copied into the machine's
	// /etc/systemd/system (drop-in directories too). They may override the
	// base units. "" for none.
	Units string
	// Passwd binds copies of the host's /etc/passwd, group, shadow and
	// gshadow, taken at Boot, over the machine's: the accounts as they
	// were then (or at the last RefreshPasswd). Without it the machine
	// reads the host's live files (the root filesystem is shared), so users
	// a test adds on the host (clem provision) exist inside at once; that
	// is the simpler choice for host-provisioned users. The snapshot is
	// weak: when the host renames a new /etc/passwd into place (useradd and
	// userdel do), the kernel detaches the bind inside and the machine sees
	// the host's live file until RefreshPasswd copies and binds again.
	Passwd bool
	// Dbus adds Debian's dbus.socket and dbus.service (a system bus), so
	// that unprivileged users read unit properties over D-Bus.
	Dbus bool
	// Binds are host directories the machine sees read-only at the same
	// path, even where its own /tmp, /var/tmp or /run would cover them (the
	// test binaries' directory under /tmp, say).
	Binds []string
	// Timeout bounds boot and poweroff; 0 means 30s.
	Timeout time.Duration
}

// Machine is a booted systemd.
type Machine struct {
	Name string
	// PID is systemd's PID in the host's pid namespace.
	PID int
	// BootTime is how long Boot took until running or degraded.
	BootTime time.Duration

	opts    Options
	state   string      // host temp dir: etc/ (passwd copies), system/ (units), keep/
	cgroup  string      // the machine's cgroup2 directory on the host
	v1      []hierarchy // its cgroup v1 directories on a hybrid host (see hierarchy.go)
	console *console
	first   *exec.Cmd     // nsenter/unshare: the machine's first process, on the host
	exitc   chan struct{} // closed once the first process has exited
	waitErr error         // its Wait result, once exitc is closed
	pidns   string        // the machine's pid namespace, as readlink shows it
	pidnsFD *os.File      // held open so no later namespace gets the same inode
	passwd  sync.Mutex
	stopped bool
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// rtmin4 is SIGRTMIN+4 as systemd sees it (glibc's SIGRTMIN is 34): PID 1
// starts poweroff.target, stopping every unit in dependency order.
const rtmin4 = syscall.Signal(38)

// Boot starts systemd with o and waits until it is running or degraded. A
// failed boot fails the test with the console and journal. t.Cleanup powers
// the machine off and removes its cgroup and state, also on failure.
func Boot(t testing.TB, o Options) *Machine {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("systemdns: booting systemd needs root (CI runs as root)")
	}
	if !nameRE.MatchString(o.Name) {
		t.Fatalf("systemdns: machine name %q: want 1-64 letters, digits, '.', '_' or '-'", o.Name)
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	for _, b := range o.Binds {
		if !filepath.IsAbs(b) || filepath.Clean(b) != b {
			t.Fatalf("systemdns: bind %q: want a clean absolute path", b)
		}
	}
	m := &Machine{Name: o.Name, opts: o, exitc: make(chan struct{})}
	start := time.Now()
	if err := m.prepare(); err != nil {
		for _, dir := range m.cgroupDirs() {
			removeCgroup(dir)
		}
		m.removeState()
		t.Fatalf("systemdns: %s: %v", o.Name, err)
	}
	t.Cleanup(func() {
		m.Shutdown(t)
		if m.pidnsFD != nil {
			m.pidnsFD.Close()
		}
	})
	if err := m.start(); err != nil {
		t.Fatalf("systemdns: %s: start: %v\nconsole:\n%s", o.Name, err, m.consoleText())
	}
	state, err := m.waitRunning()
	if err != nil {
		out, _, _ := m.run("journalctl", "--no-pager", "-q", "-o", "short-precise", "-n", "200")
		t.Fatalf("systemdns: %s: boot: %v\njournal:\n%s\nconsole:\n%s", o.Name, err, out, m.consoleText())
	}
	m.BootTime = time.Since(start)
	if state == "degraded" {
		failed, _, _ := m.run("systemctl", "--failed", "--no-legend", "--plain")
		t.Logf("systemdns: %s is degraded; failed units:\n%s", o.Name, failed)
	}
	t.Logf("systemdns: %s up (%s) in %v, PID %d", o.Name, state, m.BootTime.Round(time.Millisecond), m.PID)
	return m
}

// prepare makes the state directory (units, passwd copies) and the cgroup.
func (m *Machine) prepare() error {
	var err error
	if m.state, err = os.MkdirTemp("", "systemdns-"+m.Name+"-"); err != nil {
		return err
	}
	for _, d := range []string{"etc", "system", "keep"} {
		if err := os.Mkdir(filepath.Join(m.state, d), 0o755); err != nil {
			return err
		}
	}
	if err := writeUnits(filepath.Join(m.state, "system"), m.opts); err != nil {
		return err
	}
	if m.opts.Passwd {
		if err := m.copyPasswd(); err != nil {
			return err
		}
	}
	if m.cgroup, err = cgroupDir(m.Name); err != nil {
		return err
	}
	if err := os.Mkdir(m.cgroup, 0o755); err != nil {
		m.cgroup = "" // someone else's: never remove it
		return fmt.Errorf("create cgroup (is another machine named %s running?): %w", m.Name, err)
	}
	v1, err := v1Hierarchies(m.Name)
	if err != nil {
		return fmt.Errorf("find the host's cgroup v1 hierarchies: %w", err)
	}
	var spec strings.Builder
	for _, h := range v1 {
		if err := os.Mkdir(h.Path, 0o755); err != nil {
			return fmt.Errorf("create cgroup (is another machine named %s running?): %w", m.Name, err)
		}
		m.v1 = append(m.v1, h) // only what this machine made is removed
		fmt.Fprintf(&spec, "%s %s %s\n", h.Dir, h.Options, h.Path)
	}
	return os.WriteFile(filepath.Join(m.state, "cgroups"), []byte(spec.String()), 0o644)
}

// start runs the first process: unshare (inside NetNS with nsenter), whose
// child runs inner.sh and execs systemd. It returns once that child has
// reported its host PID, that is once the machine's mounts are in place.
func (m *Machine) start() error {
	con, slave, err := openConsole()
	if err != nil {
		return err
	}
	m.console = con
	defer slave.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	args := []string{"unshare", "-p", "-f", "-m", "-u", "-i", "--propagation", "private", "--kill-child=SIGKILL"}
	if m.opts.NetNS == "" {
		args = append(args, "-n")
	} else {
		args = append([]string{"nsenter", "--net=" + m.opts.NetNS, "--"}, args...)
	}
	args = append(args, "/bin/sh", "-c", innerScript, "systemdns", m.state, m.cgroup)
	args = append(args, m.opts.Binds...)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Dir = "/"
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.ExtraFiles = []*os.File{pw}
	m.first = cmd
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setsid: true, Setctty: true, Ctty: 0,
		// If the test binary dies (a -timeout panic runs no cleanup),
		// unshare gets SIGKILL and --kill-child takes systemd with it.
		Pdeathsig: syscall.SIGKILL,
	}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the forking thread exits: keep it alive,
		// locked, for as long as the process runs.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			m.waitErr = err
			close(m.exitc)
			started <- err
			return
		}
		started <- nil
		m.waitErr = cmd.Wait()
		close(m.exitc)
	}()
	if err := <-started; err != nil {
		pw.Close()
		return fmt.Errorf("%s: %w", args[0], err)
	}
	pw.Close()
	pidc := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(pr).ReadString('\n')
		pidc <- strings.TrimSpace(line)
	}()
	select {
	case line := <-pidc:
		pid, err := strconv.Atoi(line)
		if err != nil {
			m.waitExit(5 * time.Second)
			return fmt.Errorf("namespace setup failed before systemd started (exit: %v)", m.exitErr())
		}
		m.PID = pid
	case <-time.After(m.opts.Timeout):
		return fmt.Errorf("namespace setup did not finish in %v", m.opts.Timeout)
	}
	// Every process of the machine, and every one run in it with Exec, is
	// in this pid namespace: Leftovers looks for them by it.
	ns := fmt.Sprintf("/proc/%d/ns/pid", m.PID)
	if m.pidns, err = os.Readlink(ns); err != nil {
		return err
	}
	if m.pidnsFD, err = os.Open(ns); err != nil {
		return err
	}
	return nil
}

// waitRunning polls is-system-running until running or degraded.
func (m *Machine) waitRunning() (string, error) {
	deadline := time.Now().Add(m.opts.Timeout)
	var state string
	for {
		if m.hasExited() {
			return "", fmt.Errorf("systemd exited (%v)", m.exitErr())
		}
		if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", m.PID)); strings.HasSuffix(exe, "/systemd") {
			out, _, _ := m.run("systemctl", "is-system-running")
			state = strings.TrimSpace(out)
			if state == "running" || state == "degraded" {
				return state, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("not running after %v (is-system-running: %q)", m.opts.Timeout, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Shutdown powers the machine off cleanly (poweroff.target stops every
// unit), then kills anything left and removes its cgroup and state. An
// unclean end is a test error. It runs once; Boot's cleanup calls it too.
func (m *Machine) Shutdown(t testing.TB) {
	t.Helper()
	if m.stopped {
		return
	}
	m.stopped = true
	var errs []error
	if m.PID != 0 && !m.hasExited() {
		if err := unix.Kill(m.PID, rtmin4); err != nil {
			errs = append(errs, fmt.Errorf("signal poweroff to PID %d: %w", m.PID, err))
		}
		if !m.waitExit(m.opts.Timeout) {
			errs = append(errs, fmt.Errorf("still running %v after poweroff; killed", m.opts.Timeout))
		}
	}
	if m.first != nil && m.first.Process != nil && !m.hasExited() {
		// SIGKILL to PID 1 of a pid namespace ends every process in it;
		// unshare's --kill-child does the same if systemd never started.
		if m.PID != 0 {
			unix.Kill(m.PID, unix.SIGKILL)
		}
		m.first.Process.Kill()
		if !m.waitExit(10 * time.Second) {
			errs = append(errs, fmt.Errorf("first process %d did not exit after SIGKILL", m.first.Process.Pid))
		}
	}
	for _, dir := range m.cgroupDirs() {
		if err := removeCgroup(dir); err != nil {
			errs = append(errs, err)
		}
	}
	if m.console != nil {
		m.console.Close()
	}
	m.removeState()
	if len(errs) > 0 {
		t.Errorf("systemdns: %s: shutdown: %v\nconsole:\n%s", m.Name, errors.Join(errs...), m.consoleText())
	}
}

// Leftovers lists what of the machine still exists on the host: its
// cgroup, its state directory, processes in its pid namespace, host mounts.
// After Shutdown it must be empty.
func (m *Machine) Leftovers() []string {
	var out []string
	for _, dir := range m.cgroupDirs() {
		if _, err := os.Stat(dir); err == nil {
			out = append(out, "cgroup "+dir)
		}
	}
	if m.state != "" {
		if _, err := os.Stat(m.state); err == nil {
			out = append(out, "state directory "+m.state)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		if l, err := os.Readlink(filepath.Join(p, "ns", "pid")); err == nil && m.pidns != "" && l == m.pidns {
			comm, _ := os.ReadFile(filepath.Join(p, "comm"))
			out = append(out, fmt.Sprintf("process %s (%s) in the machine's pid namespace",
				filepath.Base(p), strings.TrimSpace(string(comm))))
		}
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil && m.state != "" {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, m.state) || strings.Contains(l, " systemdns-") {
				out = append(out, "host mount: "+l)
			}
		}
	}
	return out
}

// Console is the tail of what systemd printed on its console.
func (m *Machine) Console() string { return m.consoleText() }

func (m *Machine) consoleText() string {
	if m.console == nil {
		return ""
	}
	if m.hasExited() {
		m.console.settle(time.Second)
	}
	return m.console.String()
}

// waitExit waits up to d for the first process to exit.
func (m *Machine) waitExit(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-m.exitc:
		return true
	case <-timer.C:
		return false
	}
}

func (m *Machine) hasExited() bool {
	select {
	case <-m.exitc:
		return true
	default:
		return false
	}
}

// exitErr describes how the first process ended.
func (m *Machine) exitErr() error {
	if !m.hasExited() {
		return errors.New("still running")
	}
	if m.waitErr == nil {
		return errors.New("exit status 0")
	}
	return m.waitErr
}

// cgroupDirs are the machine's cgroup directories on the host.
func (m *Machine) cgroupDirs() []string {
	var dirs []string
	if m.cgroup != "" {
		dirs = append(dirs, m.cgroup)
	}
	for _, h := range m.v1 {
		dirs = append(dirs, h.Path)
	}
	return dirs
}

func (m *Machine) removeState() {
	if m.state != "" {
		os.RemoveAll(m.state)
	}
}
