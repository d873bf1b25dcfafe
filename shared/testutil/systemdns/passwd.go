package systemdns

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// accountFiles are bound over the machine's /etc with Options.Passwd.
var accountFiles = []string{"passwd", "group", "shadow", "gshadow"}

// copyPasswd writes the state directory's copies of the account files,
// keeping each file's mode and owner. It rewrites existing copies in
// place: the machine's /etc/passwd is a bind of that inode, and a new file
// (a rename) would not show inside.
func (m *Machine) copyPasswd() error {
	m.passwd.Lock()
	defer m.passwd.Unlock()
	for _, f := range accountFiles {
		src := filepath.Join("/etc", f)
		b, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("copy %s: %w", src, err)
		}
		st, err := os.Stat(src)
		if err != nil {
			return err
		}
		dst := filepath.Join(m.state, "etc", f)
		out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, st.Mode().Perm())
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("copy %s: %w", src, err)
		}
		sys := st.Sys().(*syscall.Stat_t)
		if err := os.Chown(dst, int(sys.Uid), int(sys.Gid)); err != nil {
			return err
		}
		if err := os.Chmod(dst, st.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

// RefreshPasswd copies the host's account files into the machine again,
// after the test added users on the host (clem provision, users.Add), and
// binds each copy again where the kernel detached it: a bind mounted on
// /etc/passwd goes away when the host renames a new /etc/passwd over it,
// and until then the machine reads the host's live file. It needs
// Options.Passwd.
func (m *Machine) RefreshPasswd(t testing.TB) {
	t.Helper()
	if !m.opts.Passwd {
		t.Fatalf("systemdns: %s: RefreshPasswd without Options.Passwd (the machine reads the host's live files)", m.Name)
	}
	if err := m.copyPasswd(); err != nil {
		t.Fatalf("systemdns: %s: refresh account files: %v", m.Name, err)
	}
	const rebind = `for f in passwd group shadow gshadow; do
  c=/run/systemdns/etc/$f
  [ "$(stat -c %d:%i "$c")" = "$(stat -c %d:%i /etc/$f)" ] || mount --bind "$c" /etc/$f || exit 1
done`
	if out, errOut, code := m.Exec(t, "sh", "-c", rebind); code != 0 {
		t.Fatalf("systemdns: %s: bind the account files again: exit %d\n%s%s", m.Name, code, out, errOut)
	}
}

// primaryGID is user's primary group id in the machine's /etc/passwd.
func (m *Machine) primaryGID(user string) (string, error) {
	path := "/etc/passwd"
	if m.opts.Passwd {
		m.passwd.Lock()
		defer m.passwd.Unlock()
		path = filepath.Join(m.state, "etc", "passwd")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Split(l, ":"); len(f) >= 4 && f[0] == user {
			return f[3], nil
		}
	}
	return "", fmt.Errorf("no user %s in the machine's /etc/passwd (added on the host after Boot? call RefreshPasswd)", user)
}
