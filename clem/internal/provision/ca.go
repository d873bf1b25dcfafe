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
// `agent-vault ca` as the vault's user, which needs no secret for it: root
// never writes in a directory another user owns.
func ensureCA(p layout.Project) ([]byte, error) {
	uid, gid, err := ids(p.User(layout.Vault), p.User(layout.Vault))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(p.Bin("agent-vault"), "ca", "-c", p.DaemonConfig(layout.Vault))
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("agent-vault ca (as %s): %v: %s", p.User(layout.Vault), err, bytes.TrimSpace(errb.Bytes()))
	}
	return out.Bytes(), nil
}
