package systemdns

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// TestPasswdCopies: with Options.Passwd the machine's account files are
// bound copies; a user added on the host is there after RefreshPasswd,
// which also binds the copies again where the host's rename detached them.
func TestPasswdCopies(t *testing.T) {
	m := Boot(t, Options{Name: uniqueName("sdt"), Passwd: true})
	// Other tests running in parallel add and remove host users; each
	// detaches the binds (see RefreshPasswd), so allow a few rounds.
	bound := func() bool {
		for range 3 {
			if _, _, code := m.Exec(t, "findmnt", "/etc/passwd"); code == 0 {
				return true
			}
			m.RefreshPasswd(t)
		}
		return false
	}
	if !bound() {
		t.Fatalf("/etc/passwd inside is not a bind of the copy")
	}
	u := users.Add(t, "sdt")
	m.RefreshPasswd(t)
	if !bound() {
		t.Errorf("/etc/passwd inside is not bound after RefreshPasswd")
	}
	for _, f := range []string{"passwd", "group", "shadow", "gshadow"} {
		if out, errOut, code := m.Exec(t, "grep", "-c", "^"+u.Name+":", "/etc/"+f); code != 0 || strings.TrimSpace(out) != "1" {
			t.Errorf("/etc/%s inside after RefreshPasswd: %q, exit %d: %s", f, out, code, errOut)
		}
	}
	if out, errOut, code := m.ExecAs(t, u.Name, "id", "-un"); code != 0 || strings.TrimSpace(out) != u.Name {
		t.Errorf("id -un as %s = %q, exit %d: %s", u.Name, out, code, errOut)
	}
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
