package provision

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/clemhq/clem/clem/internal/layout"
)

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
	dir := vaultCADir(p)
	err = filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
	if err != nil {
		return nil, fmt.Errorf("give %s to uid %s: %w", dir, strconv.Itoa(uid), err)
	}
	return out.Bytes(), nil
}
