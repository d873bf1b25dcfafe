//go:build root

package provision

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/clemhq/clem/clem/internal/hostcmd"
	"github.com/clemhq/clem/shared/testutil/netns"
	"github.com/clemhq/clem/shared/testutil/users"
)

// testSSHD is a real sshd listening on 127.0.0.1:22 of a fresh network
// namespace, with Debian's defaults that matter here (UsePAM yes, which
// lets a locked account in by key; the drop-in directory included).
type testSSHD struct {
	ns    string
	lines chan string // its log, line by line (sshd -e)
	log   *bytes.Buffer
}

func startSSHD(t *testing.T, config string) *testSSHD {
	t.Helper()
	bin := sshdBinary()
	if bin == "" {
		t.Fatal("this test needs a real sshd: apt-get install openssh-server (.ci/deps)")
	}
	// sshd refuses to start without its privilege separation directory;
	// the ssh.service unit makes it on a real host.
	if _, err := os.Stat("/run/sshd"); os.IsNotExist(err) {
		if err := os.Mkdir("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove("/run/sshd") })
	}
	s := &testSSHD{ns: netns.NewNamed(t), lines: make(chan string, 100), log: &bytes.Buffer{}}
	cmd := exec.Command("nsenter", "--net="+s.ns, bin, "-D", "-e", "-f", config)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("sshd's log:\n%s", s.log)
		}
	})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	s.await(t, "Server listening on 127.0.0.1 port 22")
	return s
}

// await reads sshd's log until a line holds want; sshd exiting first
// fails the test.
func (s *testSSHD) await(t *testing.T, want string) {
	t.Helper()
	for line := range s.lines {
		s.log.WriteString(line + "\n")
		if strings.Contains(line, want) {
			return
		}
	}
	t.Fatalf("sshd ended before logging %q:\n%s", want, s.log)
}

// ssh runs the ssh client inside the namespace as user with key, asking
// for what an agent wants from a login: a TCP connection that sshd makes
// on its behalf (-W, port forwarding; no shell involved, so nologin does
// not stop it), here to sshd's own port.
func (s *testSSHD) ssh(t *testing.T, key, user string) (out string, code int) {
	t.Helper()
	cmd := exec.Command("nsenter", "--net="+s.ns, "ssh", "-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes",
		"-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-W", "127.0.0.1:22", "-p", "22", user+"@127.0.0.1")
	cmd.Stdin = strings.NewReader("")
	b, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(b), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(b), 0
}

// plantKey writes pub as user's ~/.ssh/authorized_keys, as the agent
// itself could (owned by it, modes sshd's StrictModes accepts).
func plantKey(t *testing.T, home, user, pub string) {
	t.Helper()
	uid, gid, err := ids(user, user)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(home, ".ssh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(f, []byte(pub), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{home, dir, f} {
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSSHDDeniesAgents: an agent made by provision plants a key in its
// home and asks a real sshd for port forwarding. With provision's drop-in
// (and sshd reloaded by provision) it is refused before authentication
// and sshd logs why; a user that is not the project's gets in with the
// same kind of key; and with the drop-in gone the agent gets in too,
// nologin shell and all (the control: the drop-in is what refuses it).
func TestSSHDDeniesAgents(t *testing.T) {
	tp := newTestProject(t, "lead")
	p := tp.in.Proj
	ssh := filepath.Dir(tp.ssh)
	hostKey, key := filepath.Join(ssh, "host_ed25519"), filepath.Join(tp.dir, "id_ed25519")
	for _, k := range []string{hostKey, key} {
		if err := hostcmd.Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k); err != nil {
			t.Fatal(err)
		}
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, tp.ssh, strings.Join([]string{
		"Include " + p.SSHDropInDir() + "/*.conf",
		"ListenAddress 127.0.0.1:22",
		"HostKey " + hostKey,
		"PidFile " + filepath.Join(ssh, "sshd.pid"),
		"UsePAM yes",
		"KbdInteractiveAuthentication no",
		"PasswordAuthentication no",
	}, "\n")+"\n")
	sshd := startSSHD(t, tp.ssh)

	out := tp.provision(t)
	if !strings.Contains(out, "~ sshd reloaded") {
		t.Fatalf("provision did not reload the running sshd:\n%s", out)
	}
	sshd.await(t, "Received SIGHUP; restarting")
	sshd.await(t, "Server listening on 127.0.0.1 port 22")

	agent := p.User("lead")
	plantKey(t, p.Home("lead"), agent, string(pub))
	ctrl := users.Add(t, "h4ctl")
	ctrlHome := filepath.Join(tp.dir, "ctrl-home")
	if err := hostcmd.Run("usermod", "--home", ctrlHome, ctrl.Name); err != nil {
		t.Fatal(err)
	}
	plantKey(t, ctrlHome, ctrl.Name, string(pub))

	if out, code := sshd.ssh(t, key, ctrl.Name); code != 0 || !strings.HasPrefix(out, "SSH-2.0-") {
		t.Fatalf("control user %s (not the project's): ssh -W = exit %d, %q; want sshd's banner through the forward", ctrl.Name, code, out)
	}
	out, code := sshd.ssh(t, key, agent)
	if code != 255 || !strings.Contains(out, "Permission denied") || strings.Contains(out, "SSH-2.0-") {
		t.Errorf("agent %s with a planted key: ssh -W = exit %d, %q; want refused (255, Permission denied)", agent, code, out)
	}
	sshd.await(t, "User "+agent+" from 127.0.0.1 not allowed because listed in DenyUsers")

	// Control: the same agent, key and sshd without the drop-in.
	if err := os.Remove(p.SSHDropIn()); err != nil {
		t.Fatal(err)
	}
	pid, err := os.ReadFile(filepath.Join(ssh, "sshd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(pid)))
	if err := syscall.Kill(n, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	sshd.await(t, "Received SIGHUP; restarting")
	sshd.await(t, "Server listening on 127.0.0.1 port 22")
	if out, code := sshd.ssh(t, key, agent); code != 0 || !strings.HasPrefix(out, "SSH-2.0-") {
		t.Errorf("control, no drop-in: agent %s ssh -W = exit %d, %q; want it through (nologin alone does not stop forwarding)", agent, code, out)
	}
}
