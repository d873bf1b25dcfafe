package provision

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/clemhq/clem/clem/internal/layout"
)

// chownPlain gives path to uid:gid if it is a regular file with one link,
// through a handle opened without following symlinks.
func chownPlain(path string, uid, gid int) error {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("give %s to the vault user: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); !st.Mode().IsRegular() || !ok || sys.Nlink != 1 {
		return fmt.Errorf("%s is not a plain file with one link: refusing to chown it", path)
	}
	return f.Chown(uid, gid)
}

// currentCA reads agent-vault's published CA certificate, nil if none yet.
func currentCA(p layout.Project) []byte {
	b, err := os.ReadFile(filepath.Join(vaultCADir(p), "ca.pem"))
	if err != nil {
		return nil
	}
	return b
}

// ensureCA has agent-vault create (or rotate, when the brokered hosts
// changed) its name-constrained CA and returns the certificate. It runs
// `agent-vault ca` with the vault's credentials directory, as root since
// those files are root's, then gives the CA directory to the vault user.
func ensureCA(p layout.Project) ([]byte, error) {
	cmd := exec.Command(p.Bin("agent-vault"), "ca", "-c", p.DaemonConfig(layout.Vault))
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "CREDENTIALS_DIRECTORY=" + p.CredDir(layout.Vault)}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("agent-vault ca: %v: %s", err, bytes.TrimSpace(errb.Bytes()))
	}
	uid, gid, err := ids(p.User(layout.Vault), p.User(layout.Vault))
	if err != nil {
		return nil, err
	}
	// Only the two files agent-vault makes, never following links and
	// never a file with other names (a hard link planted there).
	dir := vaultCADir(p)
	for _, name := range []string{"ca.pem", "ca-key.pem"} {
		if err := chownPlain(filepath.Join(dir, name), uid, gid); err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}
