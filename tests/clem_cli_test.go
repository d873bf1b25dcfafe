package tests

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// team makes a fresh team directory with its own vault key.
func team(t *testing.T) (dir string, env []string) {
	t.Helper()
	dir = t.TempDir()
	env = []string{"CLEM_KEY_FILE=" + filepath.Join(dir, "home-config", "age.key")}
	if r := runBin(t, dir, env, "", "clem", "init", "--project", "acme"); r.code != 0 {
		t.Fatalf("clem init: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	return dir, env
}

func TestInitThenCheck(t *testing.T) {
	dir, env := team(t)
	r := runBin(t, dir, env, "", "clem", "check")
	if r.code != 0 {
		t.Fatalf("clem check after init: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"acme-lead", "acme-worker", "acme-pipelock", "anthropic_api_key", "api.anthropic.com", "no vault yet", "ok: clem.yaml is valid (2 agents"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, r.stdout)
		}
	}
	if r := runBin(t, dir, env, "", "clem", "init"); r.code == 0 || !strings.Contains(r.stderr, "refusing to overwrite") {
		t.Errorf("second init: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestCheckReportsEveryError(t *testing.T) {
	dir := t.TempDir()
	bad := "project: Acme\nagents:\n  lead:\n    effort: extreme\n    iteraton: 5m\n  vault: {}\n"
	if err := os.WriteFile(filepath.Join(dir, "team.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runBin(t, dir, nil, "", "clem", "check", "-f", "team.yaml")
	if r.code != 1 {
		t.Fatalf("check of a bad file: exit %d, want 1", r.code)
	}
	for _, want := range []string{"team.yaml:1:10: project:", "team.yaml:4:13: agents.lead.effort:", "team.yaml:5:5: agents.lead.iteraton: unknown key (did you mean \"iteration\"?)", "team.yaml:6:3: agents.vault:", "team.yaml: 4 problems"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}

// TestVaultArgvHygiene runs `clem vault set` and, while it waits on stdin,
// reads its /proc cmdline and environment: the secret is in neither, before
// or after it is typed; it reaches the vault only encrypted.
func TestVaultArgvHygiene(t *testing.T) {
	const secretValue = "sk-ant-api03-argv-hygiene-7f3a9c"
	dir, env := team(t)
	if r := runBin(t, dir, env, "", "clem", "vault", "init"); r.code != 0 {
		t.Fatalf("vault init: %d %s", r.code, r.stderr)
	}
	cmd := exec.Command(filepath.Join(binDir, "clem"), "vault", "set", "anthropic_api_key")
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + dir}, env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	pid := strconv.Itoa(cmd.Process.Pid)
	waitBlockedOnStdin(t, pid)

	inspect := func(when string) {
		cmdline, err := os.ReadFile("/proc/" + pid + "/cmdline")
		if err != nil {
			t.Fatalf("%s: read cmdline: %v", when, err)
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if want := []string{filepath.Join(binDir, "clem"), "vault", "set", "anthropic_api_key"}; strings.Join(args, " ") != strings.Join(want, " ") {
			t.Errorf("%s: argv = %q, want %q", when, args, want)
		}
		environ, err := os.ReadFile("/proc/" + pid + "/environ")
		if err != nil {
			t.Fatalf("%s: read environ: %v", when, err)
		}
		if strings.Contains(string(cmdline)+string(environ), secretValue) {
			t.Errorf("%s: the secret is visible in /proc/%s", when, pid)
		}
	}
	inspect("waiting on stdin")
	if _, err := io.WriteString(stdin, secretValue+"\n"); err != nil {
		t.Fatal(err)
	}
	inspect("after the value was written")
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("vault set: %v\n%s", err, errb.String())
	}
	if strings.Contains(out.String()+errb.String(), secretValue) {
		t.Errorf("vault set printed the secret: %q %q", out.String(), errb.String())
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "clem.vault"))
	if strings.Contains(string(raw), secretValue) || !strings.HasPrefix(string(raw), "-----BEGIN AGE ENCRYPTED FILE-----") {
		t.Errorf("clem.vault is not an age file hiding the secret:\n%s", raw)
	}
	if r := runBin(t, dir, env, "", "clem", "vault", "get", "anthropic_api_key"); r.code != 0 || r.stdout != secretValue {
		t.Errorf("vault get = %q (exit %d), want the value without its newline", r.stdout, r.code)
	}
	r := runBin(t, dir, env, "", "clem", "vault", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "anthropic_api_key") || !strings.Contains(r.stdout, "agent lead, agent worker") || strings.Contains(r.stdout, secretValue) {
		t.Errorf("vault list (exit %d):\n%s", r.code, r.stdout)
	}
	// check now finds the credential stored; nothing is missing or unused.
	if r := runBin(t, dir, env, "", "clem", "check"); r.code != 0 || strings.Contains(r.stdout, "warning:") || strings.Contains(r.stdout, secretValue) {
		t.Errorf("check after vault set (exit %d):\n%s", r.code, r.stdout)
	}
}

// waitBlockedOnStdin waits until the process sits in read(0, ...).
func waitBlockedOnStdin(t *testing.T, pid string) {
	t.Helper()
	blocked := poll(10*time.Second, func() bool {
		tasks, _ := filepath.Glob("/proc/" + pid + "/task/*/syscall")
		for _, f := range tasks {
			b, err := os.ReadFile(f)
			// "0 0x0 ..." is read(2) on fd 0 (x86-64); "63 0x0" on arm64.
			if err == nil && (strings.HasPrefix(string(b), "0 0x0 ") || strings.HasPrefix(string(b), "63 0x0 ")) {
				return true
			}
		}
		return false
	})
	if !blocked {
		t.Fatalf("process %s never blocked reading stdin", pid)
	}
}

func TestVaultRefusesValueInArgv(t *testing.T) {
	dir, env := team(t)
	if r := runBin(t, dir, env, "", "clem", "vault", "init"); r.code != 0 {
		t.Fatalf("vault init: %d %s", r.code, r.stderr)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "clem.vault"))
	r := runBin(t, dir, env, "", "clem", "vault", "set", "github_token", "ghp_inargv")
	if r.code == 0 || !strings.Contains(r.stderr, "never taken from the command line") {
		t.Errorf("vault set NAME VALUE: exit %d, stderr %q", r.code, r.stderr)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "clem.vault"))
	if !bytes.Equal(before, after) {
		t.Error("the refused set changed the vault")
	}
	for _, c := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"vault", "set", "empty_one"}, "empty"},
		{"x", []string{"vault", "set", "Bad-Name"}, "not a secret name"},
		{"", []string{"vault", "get", "nosuch"}, "no secret nosuch"},
		{"", []string{"vault", "rm", "nosuch"}, "no secret nosuch"},
		{"", []string{"vault", "init"}, "already exists"},
	} {
		if r := runBin(t, dir, env, c.stdin, "clem", c.args...); r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("clem %v: exit %d, stderr %q, want it to say %q", c.args, r.code, r.stderr, c.want)
		}
	}
	// Another operator's key cannot open it, and says so.
	otherDir, other := team(t)
	if r := runBin(t, otherDir, other, "", "clem", "vault", "init"); r.code != 0 {
		t.Fatalf("second operator's vault init: %d %s", r.code, r.stderr)
	}
	if r := runBin(t, t.TempDir(), other, "", "clem", "vault", "init"); r.code == 0 || !strings.Contains(r.stderr, "run `clem init` first") {
		t.Errorf("vault init without clem.yaml: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runBin(t, dir, other, "", "clem", "vault", "list"); r.code == 0 || !strings.Contains(r.stderr, "not encrypted to your key") {
		t.Errorf("vault list with another key: exit %d, stderr %q", r.code, r.stderr)
	}
}
