package systemdns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ExecTimeout bounds one command run inside a machine (a `systemctl start`
// waits for its job, so this is above systemd's 90s start timeout).
var ExecTimeout = 2 * time.Minute

// innerEnv is the whole environment of a command run inside.
var innerEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"TERM=dumb", "SYSTEMD_PAGER=cat", "SYSTEMD_COLORS=0", "LANG=C.UTF-8"}

// Command is args run as root in all of the machine's namespaces (cwd /,
// a minimal environment). The process is the test's child, not systemd's,
// and stays in the test's cgroup.
func (m *Machine) Command(ctx context.Context, args ...string) *exec.Cmd {
	full := []string{"-t", strconv.Itoa(m.PID), "-m", "-u", "-i", "-n", "-p", "-C", "--wd=/", "--", "env", "-i"}
	full = append(append(full, innerEnv...), args...)
	return exec.CommandContext(ctx, "nsenter", full...)
}

// run is Exec without a test: stdout, stderr, exit code (-1 when it could
// not run or timed out).
func (m *Machine) run(args ...string) (string, string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), ExecTimeout)
	defer cancel()
	cmd := m.Command(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errb.String(), 0
	case errors.As(err, &ee) && ctx.Err() == nil:
		return out.String(), errb.String(), ee.ExitCode()
	default:
		return out.String(), errb.String() + fmt.Sprintf("\n[systemdns: %v]", err), -1
	}
}

// Exec runs args as root inside the machine and returns what it printed
// and its exit code. Failing to run at all (or running longer than
// ExecTimeout) fails the test.
func (m *Machine) Exec(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	stdout, stderr, code = m.run(args...)
	if code == -1 {
		t.Fatalf("systemdns: %s: run %q: %s", m.Name, args, stderr)
	}
	return stdout, stderr, code
}

// ExecAs runs args inside the machine as user (its uid, primary group and
// supplementary groups, as the machine's /etc/group lists them), with a
// fresh environment (setpriv --reset-env: HOME, USER, SHELL, PATH). No PAM,
// no logind session.
func (m *Machine) ExecAs(t testing.TB, user string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	gid, err := m.primaryGID(user)
	if err != nil {
		t.Fatalf("systemdns: %s: %v", m.Name, err)
	}
	full := append([]string{"setpriv", "--reuid=" + user, "--regid=" + gid, "--init-groups", "--reset-env"}, args...)
	return m.Exec(t, full...)
}

// Systemctl runs systemctl inside the machine and returns its stdout; a
// non-zero exit fails the test with the output. For commands whose exit
// code is the answer (is-active, a start that should fail), use Exec.
func (m *Machine) Systemctl(t testing.TB, args ...string) string {
	t.Helper()
	out, errOut, code := m.Exec(t, append([]string{"systemctl"}, args...)...)
	if code != 0 {
		t.Fatalf("systemdns: %s: systemctl %s: exit %d\n%s%s", m.Name, strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// Show returns unit's properties (systemctl show -p NAME...), by name.
func (m *Machine) Show(t testing.TB, unit string, props ...string) map[string]string {
	t.Helper()
	args := []string{"show", unit}
	for _, p := range props {
		args = append(args, "-p", p)
	}
	got := map[string]string{}
	for _, l := range strings.Split(m.Systemctl(t, args...), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			got[k] = v
		}
	}
	return got
}

// Journal is the machine's journal for unit ("" for all of it), with
// precise timestamps, never failing: it is what failure messages include.
func (m *Machine) Journal(t testing.TB, unit string) string {
	t.Helper()
	args := []string{"journalctl", "--no-pager", "-q", "-o", "short-precise"}
	if unit != "" {
		args = append(args, "-u", unit)
	}
	out, errOut, code := m.run(args...)
	if code != 0 {
		return out + errOut
	}
	return out
}

// WriteUnit adds (or replaces) a unit file in the machine's
// /etc/systemd/system and runs daemon-reload.
func (m *Machine) WriteUnit(t testing.TB, name, body string) {
	t.Helper()
	if strings.ContainsRune(name, '/') || name == "" {
		t.Fatalf("systemdns: %s: unit name %q", m.Name, name)
	}
	if err := os.WriteFile(filepath.Join(m.state, "system", name), []byte(body), 0o644); err != nil {
		t.Fatalf("systemdns: %s: write unit: %v", m.Name, err)
	}
	m.Systemctl(t, "daemon-reload")
}
