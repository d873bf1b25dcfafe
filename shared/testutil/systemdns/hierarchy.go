package systemdns

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// v1Wanted are the cgroup v1 hierarchies a machine gets when the host
// mounts them (a hybrid host): systemd's own name=systemd tree (hybrid mode
// needs it) and the controllers behind TasksMax=, MemoryMax=, CPUQuota=,
// CPUWeight= and DeviceAllow=. Others stay out: a v1 cpuset child starts
// with no CPUs (moving a process into it fails), and systemd uses neither
// v1 cpuset nor freezer; blkio is left to the host.
var v1Wanted = []string{"name=systemd", "pids", "memory", "cpu", "cpuacct", "devices"}

// hierarchy is one host cgroup v1 hierarchy the machine sees as
// /sys/fs/cgroup/Dir: a child Path of the test's own cgroup in it, which
// becomes the root of the machine's cgroup namespace there.
type hierarchy struct {
	Dir     string // the directory under the machine's /sys/fs/cgroup: "pids", "systemd"
	Options string // mount -o: "pids", "none,name=systemd"; equal to the host's, so the kernel reuses its hierarchy
	Path    string // the machine's cgroup on the host: MOUNT/OWN/NAME
}

// v1Hierarchies lists, for a machine named name, the wanted hierarchies
// this host mounts as cgroup v1, or none when it has no name=systemd one
// (then systemd runs unified, on the cgroup2 tree alone, as before: hybrid
// mode needs name=systemd and a cgroup namespace cannot create a hierarchy).
// A controller the host shares with another in one hierarchy (cpu,cpuacct)
// comes with its partner, mounted as the host mounts it.
func v1Hierarchies(name string) ([]hierarchy, error) {
	own, err := ownV1Cgroups()
	if err != nil {
		return nil, err
	}
	mounts, err := v1Mounts()
	if err != nil {
		return nil, err
	}
	var out []hierarchy
	seen := map[string]bool{}
	for _, want := range v1Wanted {
		for key, mnt := range mounts {
			if seen[key] || !slices.Contains(strings.Split(key, ","), want) {
				continue
			}
			path, ok := own[key]
			if !ok {
				return nil, fmt.Errorf("/proc/self/cgroup has no line for the %s hierarchy mounted at %s", key, mnt)
			}
			seen[key] = true
			opts := key
			if strings.HasPrefix(key, "name=") {
				opts = "none," + key
			}
			out = append(out, hierarchy{
				Dir:     strings.TrimPrefix(key, "name="),
				Options: opts,
				Path:    filepath.Join(mnt, path, name),
			})
		}
	}
	if !seen["name=systemd"] {
		return nil, nil
	}
	return out, nil
}

// ownV1Cgroups maps each v1 hierarchy this process is in, named by its
// controllers as /proc/self/cgroup lists them ("cpu", "cpu,cpuacct",
// "name=systemd"), to the process's path in it.
func ownV1Cgroups() (map[string]string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	own := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		// ID:CONTROLLERS:PATH; the cgroup2 line is 0::PATH.
		f := strings.SplitN(l, ":", 3)
		if len(f) == 3 && f[1] != "" {
			own[f[1]] = f[2]
		}
	}
	return own, nil
}

// v1Mounts maps each cgroup v1 hierarchy mounted in this mount namespace,
// named as /proc/self/cgroup names it, to its first mount point whose root
// is the hierarchy's root (a bind of a subtree would shift every path).
func v1Mounts() (map[string]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	mounts := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, fields := strings.Fields(pre), strings.Fields(post)
		if len(fields) < 3 || fields[0] != "cgroup" || len(pf) < 5 || pf[3] != "/" {
			continue
		}
		// /proc/self/cgroup lists a hierarchy's controllers in the kernel's
		// subsystem order and a name= last; mount options come in the same order.
		key := strings.Join(hierarchyOf(fields[2]), ",")
		if _, dup := mounts[key]; key != "" && !dup {
			mounts[key] = unescapeMount(pf[4])
		}
	}
	return mounts, sc.Err()
}

// hierarchyOf is what a cgroup v1 mount's super options say it holds: its
// controllers and its name= ("pids", "cpu,cpuacct", "name=systemd"),
// without the flags.
func hierarchyOf(superOpts string) []string {
	var out []string
	for _, o := range strings.Split(superOpts, ",") {
		switch {
		case o == "rw" || o == "ro" || o == "none" || o == "xattr" || o == "noprefix" ||
			o == "clone_children" || o == "cpuset_v2_mode" || o == "favordynmods" ||
			strings.HasPrefix(o, "release_agent="):
		default:
			out = append(out, o)
		}
	}
	return out
}
