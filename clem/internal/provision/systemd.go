package provision

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// SystemdRunning reports whether systemd is PID 1 here (sd_booted).
func SystemdRunning() bool {
	st, err := os.Stat("/run/systemd/system")
	return err == nil && st.IsDir()
}

func systemctl(args ...string) error {
	out, err := exec.Command(tool("systemctl"), args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("systemctl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
