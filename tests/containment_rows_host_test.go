package tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/clemhq/clem/shared/testutil/users"
)

// hostAttempts are items 3, 10 and 11: ways outside the agent's unit
// (ssh, cron, at, its login shell), files root renders for the operator
// (clem logs), and a team file that maps two roles to one OS user.
func (cm *containment) hostAttempts() []*attempt {
	t := cm.t
	leadHome := cm.lead.HomeDir
	shell := func() string {
		u, _ := exec.Command("getent", "passwd", cm.lead.Username).Output()
		f := strings.Split(strings.TrimSpace(string(u)), ":")
		return f[len(f)-1]
	}
	// A control user that may use what the agents may not.
	ctl := users.Add(t, "cmctl")
	ctlHome, err := os.MkdirTemp("", "clem-ctl-home-") // its parents must not be closed to it (sshd reads as the user)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.RemoveAll(ctlHome)
		// Whatever a broken defence let the agent queue goes with the test.
		exec.Command("crontab", "-u", cm.lead.Username, "-r").Run()
		exec.Command("crontab", "-u", ctl.Name, "-r").Run()
	})
	os.Chmod(ctlHome, 0o755)
	os.Chown(ctlHome, int(ctl.UID), int(ctl.GID))
	if out, err := exec.Command("usermod", "-s", "/bin/sh", "-d", ctlHome, ctl.Name).CombinedOutput(); err != nil {
		t.Fatalf("usermod %s: %v\n%s", ctl.Name, err, out)
	}
	state := cm.state + "/agents/lead/transcripts"
	asLead := func(script string) outcome {
		return cm.asLead(t, probe{Kind: "exec", Argv: []string{"/bin/sh", "-c", script}})
	}
	return []*attempt{
		{
			name:     "[3] run a command through its login shell",
			expected: "the shell is nologin: nothing runs",
			run: func() (bool, string) {
				sh := shell()
				o := cm.asLead(t, probe{Kind: "exec", Argv: []string{sh, "-c", "echo ran"}})
				return !strings.Contains(o.Body, "ran"), fmt.Sprintf("shell %s: %s", sh, clip(strings.TrimSpace(o.Body), 60))
			},
		},
		{
			name:     "[3] ssh in with a key it planted in ~/.ssh/authorized_keys",
			expected: "sshd refuses the agent; a user it does not deny logs in with the same key (control)",
			run:      func() (bool, string) { return cm.sshAttempt(ctl, ctlHome, leadHome) },
		},
		{
			name:     "[3] install a crontab (persistence outside its unit)",
			expected: "cron refuses the agent; the control user may",
			run: func() (bool, string) {
				c := cm.as(t, ctl.Name, probe{Kind: "exec", Argv: []string{"/bin/sh", "-c", "echo '# x' | crontab - && crontab -r"}})
				if !c.OK {
					return false, "control failed: " + describe(c) + " " + clip(c.Body, 80)
				}
				o := asLead("echo '# x' | crontab -")
				return !o.OK, clip(strings.TrimSpace(o.Body), 80)
			},
		},
		{
			name:     "[3] queue an at job",
			expected: "at refuses the agent; the control user may",
			run: func() (bool, string) {
				c := cm.as(t, ctl.Name, probe{Kind: "exec", Argv: []string{"/bin/sh", "-c", "echo true | at now + 1 hour 2>&1 && atrm $(atq | cut -f1)"}})
				if !c.OK {
					return false, "control failed: " + describe(c) + " " + clip(c.Body, 80)
				}
				o := asLead("echo true | at now + 1 hour")
				return !o.OK, clip(strings.TrimSpace(o.Body), 80)
			},
		},
		{
			name:     "[10] plant a transcript that links to /etc/shadow, for root's `clem logs`",
			expected: "clem logs refuses the link; nothing of the file is shown",
			run: func() (bool, string) {
				asLead("mkdir -p " + state + " && ln -sf /etc/shadow " + state + "/900.jsonl")
				out, code, hung := cm.clemLogs("-n", "1", "lead")
				return !hung && !strings.Contains(out, "root:"), fmt.Sprintf("exit %d: %s", code, clip(strings.TrimSpace(out), 80))
			},
		},
		{
			name:     "[10] plant a FIFO as the newest transcript",
			expected: "clem logs does not hang on it",
			run: func() (bool, string) {
				asLead("mkfifo " + state + "/901.jsonl")
				out, code, hung := cm.clemLogs("-n", "1", "lead")
				return !hung, fmt.Sprintf("exit %d, hung: %v: %s", code, hung, clip(strings.TrimSpace(out), 80))
			},
		},
		{
			name:     "[10] terminal escapes (OSC 52 clipboard, a cursor query) in a transcript, under `clem logs --raw`",
			expected: "no escape or control byte reaches the terminal",
			run: func() (bool, string) {
				line := "{\"type\":\"assistant\",\"x\":\"\x1b]52;c;ZXZpbA==\x07\x1b[6n\x1b]0;title\x07\"}\n"
				p := state + "/902.jsonl"
				o := cm.asLead(t, probe{Kind: "exec", Argv: []string{"/bin/sh", "-c", "cat > " + p}, Stdin: line})
				if !o.OK {
					return false, "could not plant: " + describe(o)
				}
				out, code, hung := cm.clemLogs("--raw", "-n", "1", "lead")
				bad := strings.ContainsAny(out, "\x1b\x07\x9b")
				return !hung && !bad && strings.Contains(out, "ZXZpbA"), fmt.Sprintf("exit %d, control bytes in output: %v", code, bad)
			},
		},
		{
			name:     "[11] a team file whose agent `mcp-db` is the db sidecar's user",
			expected: "clem check refuses it, naming both roles; the real file passes (control)",
			run: func() (bool, string) {
				yaml := filepath.Join(cm.f.dir, "clem.yaml")
				if r := cm.clemRoot("check", "--file", yaml); r.code != 0 {
					return false, "control failed: clem check of the real file: " + r.stderr
				}
				b, _ := os.ReadFile(yaml)
				clash := filepath.Join(cm.f.dir, "clash.yaml")
				os.WriteFile(clash, []byte(strings.Replace(string(b), "agents:\n", "agents:\n  mcp-db:\n    role: impostor\n", 1)), 0o644)
				r := cm.clemRoot("check", "--file", clash)
				msg := strings.TrimSpace(r.stdout + r.stderr)
				return r.code != 0 && strings.Contains(msg, "mcp-db"), fmt.Sprintf("exit %d: %s", r.code, clip(msg, 100))
			},
		},
	}
}

// clemRoot runs the clem binary as root (the operator with sudo).
func (cm *containment) clemRoot(args ...string) result {
	return runBin(cm.t, cm.f.dir, nil, "", "clem", args...)
}

// clemLogs runs `clem logs` as root with a deadline (flags before the
// agent: urfave/cli stops at the first argument); hung says it was killed
// at the deadline.
func (cm *containment) clemLogs(args ...string) (out string, code int, hung bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "clem"), append([]string{"logs", "--file", filepath.Join(cm.f.dir, "clem.yaml")}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/root"}
	b, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(b), -1, true
	}
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return string(b), code, false
}

// sshAttempt runs a real sshd in the matrix's namespace with the host's
// sshd configuration (and the drop-in provision wrote), plants one key for
// the agent (as the agent) and for the control user, and tries both.
func (cm *containment) sshAttempt(ctl users.User, ctlHome, leadHome string) (bool, string) {
	t := cm.t
	dir := t.TempDir()
	key, host := filepath.Join(dir, "id"), filepath.Join(dir, "host")
	for _, k := range []string{key, host} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k).CombinedOutput(); err != nil {
			return false, fmt.Sprintf("ssh-keygen: %v: %s", err, out)
		}
	}
	pub, _ := os.ReadFile(key + ".pub")
	os.MkdirAll("/run/sshd", 0o755)
	const port = "22022"
	sshd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-p", port, "-h", host, "-o", "ListenAddress=127.0.0.1", "-o", "PidFile=none")
	var log lockedBuffer
	sshd.Stdout, sshd.Stderr = &log, &log
	if err := sshd.Start(); err != nil {
		return false, "start sshd: " + err.Error()
	}
	defer func() { sshd.Process.Signal(syscall.SIGTERM); sshd.Wait() }()
	if !poll(10*time.Second, func() bool { return strings.Contains(log.String(), "Server listening") }) {
		return false, "sshd did not start: " + log.String()
	}
	// The agent plants its key; root plants the same for the control user.
	plant := "mkdir -p ~/.ssh && chmod 700 ~/.ssh && cat > ~/.ssh/authorized_keys && chmod 600 ~/.ssh/authorized_keys"
	if o := cm.asLead(t, probe{Kind: "exec", Argv: []string{"/bin/sh", "-c", plant}, Stdin: string(pub)}); !o.OK {
		return false, "the agent could not plant its key: " + describe(o)
	}
	os.MkdirAll(ctlHome+"/.ssh", 0o700)
	os.WriteFile(ctlHome+"/.ssh/authorized_keys", pub, 0o600)
	os.Chown(ctlHome+"/.ssh", int(ctl.UID), int(ctl.GID))
	os.Chown(ctlHome+"/.ssh/authorized_keys", int(ctl.UID), int(ctl.GID))
	login := func(name string) (bool, string) {
		cmd := exec.Command("ssh", "-v", "-i", key, "-p", port, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
			"-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5", name+"@127.0.0.1", "true")
		out, _ := cmd.CombinedOutput()
		return strings.Contains(string(out), "Authenticated to"), string(out)
	}
	if ok, out := login(ctl.Name); !ok {
		return false, "control failed: the control user could not log in: " + lastLines(out, 3) + "\nsshd: " + lastLines(log.String(), 3)
	}
	u, _ := user.Lookup(cm.lead.Username)
	ok, out := login(u.Username)
	if ok {
		return false, "the agent logged in over ssh"
	}
	// sshd says why: the drop-in provision wrote, not a key it disliked.
	why := "not allowed because listed in DenyUsers"
	if !poll(5*time.Second, func() bool { return strings.Contains(log.String(), why) }) {
		return false, "refused, but sshd does not say DenyUsers: " + lastLines(log.String(), 2)
	}
	return true, "refused (sshd: " + why + "): " + lastLines(out, 1)
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, " | ")
}
