package agentlogin

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ProcessesOf lists the processes with uid as any of their user ids (real,
// effective, saved or filesystem).
func ProcessesOf(uid int) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue // gone
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			ids, ok := strings.CutPrefix(sc.Text(), "Uid:")
			if !ok {
				continue
			}
			for _, f := range strings.Fields(ids) {
				if f == strconv.Itoa(uid) {
					pids = append(pids, pid)
					break
				}
			}
			break
		}
	}
	return pids, nil
}
