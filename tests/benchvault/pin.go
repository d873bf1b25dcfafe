package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// placement says which CPU each process runs on; -1 means unpinned.
type placement struct {
	pipelock, vault, bench int
	what                   string
}

var placements = map[string]placement{
	"shared": {0, 0, 1, "pipelock and agent-vault share CPU 0; load generator and upstream on CPU 1"},
	"split":  {0, 1, 1, "pipelock on CPU 0; agent-vault, load generator and upstream share CPU 1"},
	"none":   {-1, -1, -1, "unpinned; every process may use every CPU"},
}

// otherPlacement is what -alt measures after a failed target.
func otherPlacement(name string) string {
	if name == "shared" {
		return "split"
	}
	return "shared"
}

// pinnedEnv marks the re-executed, pinned process so it does not loop.
const pinnedEnv = "CLEM_BENCHVAULT_PINNED"

// pinSelf puts this process on the bench CPU with GOMAXPROCS=1. Affinity is
// per thread and the Go runtime has started threads before main, so it sets
// the affinity of this thread and executes the program again: every thread
// of the new image inherits it, and so does GOMAXPROCS. The bench CPU is the
// same in every pinned placement, so -alt can move the daemons only.
func pinSelf(o options) error {
	pl := placements[o.placement]
	if pl.bench < 0 {
		return nil
	}
	if os.Getenv(pinnedEnv) == "1" {
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(0, &set); err != nil {
			return fmt.Errorf("read CPU affinity: %w", err)
		}
		if set.Count() != 1 || !set.IsSet(pl.bench) || runtime.GOMAXPROCS(0) != 1 {
			return fmt.Errorf("re-executed but not pinned to CPU %d with GOMAXPROCS=1", pl.bench)
		}
		return nil
	}
	if runtime.NumCPU() < 2 {
		return fmt.Errorf("pinning needs 2 CPUs, this process may use %d; run with -placement=none", runtime.NumCPU())
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable to re-exec pinned: %w", err)
	}
	runtime.LockOSThread()
	var set unix.CPUSet
	set.Set(pl.bench)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("pin to CPU %d: %w", pl.bench, err)
	}
	env := []string{"GOMAXPROCS=1", pinnedEnv + "=1"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOMAXPROCS=") && !strings.HasPrefix(kv, pinnedEnv+"=") {
			env = append(env, kv)
		}
	}
	return fmt.Errorf("re-exec pinned: %w", syscall.Exec(self, os.Args, env))
}

// pinProcess moves every thread of a running process to cpu, so -alt can
// change the placement without restarting the daemons (and their pools).
func pinProcess(pid, cpu int) error {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	if err != nil || len(tasks) == 0 {
		return fmt.Errorf("list threads of %d: %v", pid, err)
	}
	var set unix.CPUSet
	set.Set(cpu)
	for _, t := range tasks {
		tid, _ := strconv.Atoi(filepath.Base(t))
		if err := unix.SchedSetaffinity(tid, &set); err != nil {
			return fmt.Errorf("pin thread %d of %d to CPU %d: %w", tid, pid, cpu, err)
		}
	}
	return nil
}
