package provision

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/clemhq/clem/clem/internal/hostcmd"
	"github.com/clemhq/clem/clem/internal/layout"
)

// nologin shells do not stop sshd: a key planted in ~/.ssh/authorized_keys
// still authenticates, and `ssh -N -L` or `-D` then forwards ports for the
// agent from sshd's own socket (root's, so outside the egress pin). Only
// DenyUsers refuses before authentication.

// sshdDropIn is the drop-in that denies the project's users; nil when this
// host has no sshd drop-in directory (no sshd, or one that reads none).
func sshdDropIn(p layout.Project, users []User) *File {
	if st, err := os.Stat(p.SSHDropInDir()); err != nil || !st.IsDir() {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by `clem provision` for project %s; deprovision removes it.\n", p.Name)
	b.WriteString("# Its agents and daemons never log in: a key an agent planted in its home\n")
	b.WriteString("# would give it a shell or port forwarding outside its unit.\n")
	b.WriteString("DenyUsers")
	for _, u := range users {
		b.WriteString(" " + u.Name)
	}
	b.WriteString("\n")
	return &File{Path: p.SSHDropIn(), Mode: 0o644, Data: []byte(b.String()), Kind: KindSSHD}
}

// sshdBinary is the sshd that reads p.SSHDConfig; "" when none is installed.
func sshdBinary() string {
	p := hostcmd.Path("sshd")
	if !filepath.IsAbs(p) {
		return ""
	}
	return p
}

// sshdSettings runs `sshd -T`, the configuration sshd would use, as
// keyword -> values.
func sshdSettings(bin, config string) (map[string][]string, error) {
	out, err := exec.Command(bin, "-T", "-f", config).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s -T -f %s: %v: %s", bin, config, err, strings.TrimSpace(string(out)))
	}
	m := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		m[k] = append(m[k], v)
	}
	return m, nil
}

// errNoPrivsep: sshd refuses to check a config without its privilege
// separation directory, which exists whenever an sshd runs.
const errNoPrivsep = "Missing privilege separation directory"

// applySSHD checks that sshd reads the drop-in and denies every user in
// deny, and reloads a running sshd so it denies them now (an sshd that is
// not running reads it when it starts). A config that sshd refuses only
// with the drop-in would stop sshd at its next start: then the drop-in
// goes again and provision fails. One it refuses anyway is the host's to
// fix; note says so, and no sshd runs with it to reload.
func applySSHD(p layout.Project, deny []string) (reloaded bool, note string, err error) {
	bin := sshdBinary()
	if bin == "" {
		return false, "", nil
	}
	set, err := sshdSettings(bin, p.SSHDConfig)
	if err != nil && strings.Contains(err.Error(), errNoPrivsep) {
		return false, "", nil // no sshd can be running
	}
	if err != nil {
		if len(deny) > 0 && ownFault(bin, p) {
			err = errors.Join(err, removePath(p.SSHDropIn(), false))
			return false, "", fmt.Errorf("sshd does not accept the drop-in %s, so it is removed again: %w", p.SSHDropIn(), err)
		}
		return false, fmt.Sprintf("sshd refuses %s with or without clem's drop-in, so it was not reloaded: %v", p.SSHDConfig, err), nil
	}
	for _, u := range deny {
		if !slices.Contains(set["denyusers"], u) {
			return false, "", fmt.Errorf("sshd (%s) does not deny %s after %s was written: make %s read %s/*.conf (Include), or deny the project's users there yourself",
				p.SSHDConfig, u, p.SSHDropIn(), p.SSHDConfig, p.SSHDropInDir())
		}
	}
	pid := runningSSHD(set["pidfile"], bin)
	if pid == 0 {
		return false, "", nil
	}
	// sshd re-executes itself on SIGHUP and reads its config again; the
	// ssh.service unit's ExecReload does the same.
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return false, "", fmt.Errorf("reload sshd (pid %d): %w", pid, err)
	}
	return true, "", nil
}

// ownFault reports whether sshd accepts its config once the drop-in is
// moved aside (and put back).
func ownFault(bin string, p layout.Project) bool {
	aside := p.SSHDropIn() + ".checking"
	if err := os.Rename(p.SSHDropIn(), aside); err != nil {
		return false
	}
	defer os.Rename(aside, p.SSHDropIn())
	_, err := sshdSettings(bin, p.SSHDConfig)
	return err == nil
}

// runningSSHD is the pid in sshd's PidFile when that process is sshd; 0
// when none runs.
func runningSSHD(pidfile []string, bin string) int {
	if len(pidfile) != 1 || pidfile[0] == "none" {
		return 0
	}
	b, err := os.ReadFile(pidfile[0])
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0
	}
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil || filepath.Base(exe) != filepath.Base(bin) {
		return 0 // a stale pid file: that pid is someone else now
	}
	return pid
}
