package termrelay

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// systemdRuns says whether systemd manages this host (sd_booted(3)).
func systemdRuns() bool {
	fi, err := os.Lstat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// scopeArgv runs what follows in a new transient scope unit named unit:
// systemd-run registers the scope and execs the program in place, so the
// relay's session and pty stay the program's.
func scopeArgv(unit string) []string {
	return []string{"systemd-run", "--scope", "--quiet", "--collect", "--unit=" + unit, "--"}
}

// stopScope stops the scope, killing every process in its cgroup. A scope
// that already ended (everything in it exited) is no error.
func stopScope(unit string) error {
	out, err := exec.Command("systemctl", "stop", unit+".scope").CombinedOutput()
	if err != nil && !strings.Contains(string(out), "not loaded") {
		return fmt.Errorf("stop %s.scope: %v: %s", unit, err, strings.TrimSpace(string(out)))
	}
	return nil
}
