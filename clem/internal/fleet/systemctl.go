package fleet

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"github.com/clemhq/clem/clem/internal/hostcmd"
)

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
	out, err := exec.Command(hostcmd.Path("systemctl"), args...).Output()
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
