package agentlogin

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ProcessesOf lists the live processes with uid as any of their user ids (real,
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
		if ownedBy(b, uid) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// ownedBy says whether a /proc/PID/status is a live process with uid as any
// of its user ids. Zombies do not count: they hold no files and run
// nothing, and a deleted user's zombies may linger (the reaper decides
// when) after its uid was given to a new user.
func ownedBy(status []byte, uid int) bool {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		line := sc.Text()
		if st, ok := strings.CutPrefix(line, "State:"); ok {
			if f := strings.Fields(st); len(f) > 0 && (f[0] == "Z" || f[0] == "X") {
				return false
			}
		}
		if ids, ok := strings.CutPrefix(line, "Uid:"); ok {
			for _, f := range strings.Fields(ids) {
				if f == strconv.Itoa(uid) {
					return true
				}
			}
			return false
		}
	}
	return false
}
