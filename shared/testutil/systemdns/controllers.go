package systemdns

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// Controllers lists the cgroup controllers the machine's systemd can use,
// sorted: the cgroup2 controllers of its subtree when its /sys/fs/cgroup is
// cgroup2 (unified mode), or those of the cgroup v1 hierarchies mounted
// under it (hybrid mode, on a host that mounts pids, memory and cpu as v1).
// TasksMax= needs "pids", MemoryMax= "memory", CPUQuota= "cpu"; without
// them systemd accepts those settings and enforces nothing.
func (m *Machine) Controllers() ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", m.PID))
	if err != nil {
		return nil, fmt.Errorf("read the machine's mounts: %w", err)
	}
	type mount struct{ id, parent, at, fstype, superOpts string }
	var mounts []mount
	for _, l := range strings.Split(string(b), "\n") {
		pre, post, ok := strings.Cut(l, " - ")
		pf, fields := strings.Fields(pre), strings.Fields(post)
		if ok && len(pf) >= 5 && len(fields) >= 3 {
			mounts = append(mounts, mount{pf[0], pf[1], unescapeMount(pf[4]), fields[0], fields[2]})
		}
	}
	// The namespace still lists the host's cgroup mounts, under the /sys
	// that the machine's own sysfs covers: only the last mount at
	// /sys/fs/cgroup, and what is mounted on it, is what systemd sees.
	top := -1
	for i, mt := range mounts {
		if mt.at == "/sys/fs/cgroup" {
			top = i
		}
	}
	if top < 0 {
		return nil, fmt.Errorf("the machine (PID %d) has nothing mounted at /sys/fs/cgroup", m.PID)
	}
	var got []string
	if mounts[top].fstype == "cgroup2" {
		c, err := os.ReadFile(m.cgroup + "/cgroup.controllers")
		if err != nil {
			return nil, fmt.Errorf("read the machine's cgroup2 controllers: %w", err)
		}
		got = strings.Fields(string(c))
	}
	for _, mt := range mounts[top+1:] {
		if mt.parent != mounts[top].id || mt.fstype != "cgroup" {
			continue
		}
		for _, c := range hierarchyOf(mt.superOpts) {
			if !strings.HasPrefix(c, "name=") {
				got = append(got, c)
			}
		}
	}
	slices.Sort(got)
	return slices.Compact(got), nil
}
