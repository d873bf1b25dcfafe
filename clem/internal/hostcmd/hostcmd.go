// Package hostcmd runs the host's system programs (useradd, systemctl, ...)
// for clem's root commands: found in the sbin and bin directories first,
// so they work under sudo's or a test's short PATH, with their output in
// the error when they fail. Only the clem binary imports it.
package hostcmd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Path finds a system program in the usual sbin and bin directories, then
// on PATH; the bare name when it is nowhere (running it then says so).
func Path(name string) string {
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return name
}

// Run runs name with args and returns an error holding its output.
func Run(name string, args ...string) error {
	out, err := exec.Command(Path(name), args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// SystemdRunning reports whether systemd is PID 1 here (sd_booted).
func SystemdRunning() bool {
	st, err := os.Stat("/run/systemd/system")
	return err == nil && st.IsDir()
}

// Systemctl runs systemctl with args.
func Systemctl(args ...string) error { return Run("systemctl", args...) }
