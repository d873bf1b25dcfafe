package fleet

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Running reports whether systemd is PID 1 here.
func Running() bool {
	st, err := os.Stat("/run/systemd/system")
	return err == nil && st.IsDir()
}

// Systemctl runs systemctl with args and returns its error with output.
func Systemctl(args ...string) error {
	out, err := exec.Command(systemctlPath(), args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("systemctl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func systemctlPath() string {
	for _, p := range []string{"/usr/bin/systemctl", "/bin/systemctl"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "systemctl"
}

// UnitState is what status shows of one unit.
type UnitState struct {
	Unit      string `json:"unit"`
	Active    string `json:"active"` // active, inactive, failed, activating, ...
	Sub       string `json:"sub"`    // running, dead, auto-restart, ...
	Result    string `json:"result"` // success, exit-code, watchdog, ...
	Restarts  int    `json:"restarts"`
	LoadState string `json:"load"` // loaded, not-found
}

// Show reads the state of units with one systemctl call.
func Show(units []string) (map[string]UnitState, error) {
	args := append([]string{"show", "--no-pager", "-p", "Id,LoadState,ActiveState,SubState,Result,NRestarts"}, units...)
	out, err := exec.Command(systemctlPath(), args...).Output()
	if err != nil {
		return nil, fmt.Errorf("systemctl show: %w", err)
	}
	return parseShow(out), nil
}

// parseShow reads `systemctl show` output: KEY=VALUE blocks separated by
// blank lines, one per unit.
func parseShow(out []byte) map[string]UnitState {
	res := map[string]UnitState{}
	var cur UnitState
	flush := func() {
		if cur.Unit != "" {
			res[cur.Unit] = cur
		}
		cur = UnitState{}
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			flush()
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "Id":
			cur.Unit = v
		case "LoadState":
			cur.LoadState = v
		case "ActiveState":
			cur.Active = v
		case "SubState":
			cur.Sub = v
		case "Result":
			cur.Result = v
		case "NRestarts":
			cur.Restarts, _ = strconv.Atoi(v)
		}
	}
	flush()
	return res
}
