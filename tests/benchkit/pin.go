package benchkit

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

// PinSelf puts this process on cpu with GOMAXPROCS=1. The Go runtime starts
// threads before main runs and affinity is per thread, so the only clean
// way is to set it on this thread and exec the program again: every thread
// of the new image inherits it, and so does the GOMAXPROCS read at startup.
// envName marks the re-executed process so it does not loop; unpinned is
// the flag that measures without pinning, for the error on a 1-CPU machine.
// PinSelf returns only in the re-executed process or on an error.
func PinSelf(cpu int, envName, unpinned string) error {
	if os.Getenv(envName) == "1" {
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(0, &set); err != nil {
			return fmt.Errorf("read CPU affinity: %w", err)
		}
		if set.Count() != 1 || !set.IsSet(cpu) || runtime.GOMAXPROCS(0) != 1 {
			return fmt.Errorf("re-executed but not pinned to CPU %d with GOMAXPROCS=1 (%d CPUs allowed, GOMAXPROCS=%d)",
				cpu, set.Count(), runtime.GOMAXPROCS(0))
		}
		return nil
	}
	if runtime.NumCPU() < 2 {
		return fmt.Errorf("pinning needs 2 CPUs, this process may use %d; run with %s", runtime.NumCPU(), unpinned)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable to re-exec pinned: %w", err)
	}
	runtime.LockOSThread() // exec from the thread whose affinity we set
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("pin to CPU %d: %w", cpu, err)
	}
	env := []string{"GOMAXPROCS=1", envName + "=1"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOMAXPROCS=") && !strings.HasPrefix(kv, envName+"=") {
			env = append(env, kv)
		}
	}
	return fmt.Errorf("re-exec pinned: %w", syscall.Exec(self, os.Args, env))
}

// PinProcess moves every thread of a running process to cpu.
func PinProcess(pid, cpu int) error {
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
