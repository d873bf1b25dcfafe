package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// pinnedEnv marks the re-executed, pinned process so it does not loop.
const pinnedEnv = "CLEM_BENCH_PINNED"

// pinSelf puts this process on o.benchCPU with GOMAXPROCS=1, so the load
// generator and the upstream share one core and pipelock has the other to
// itself. The Go runtime starts threads before main runs and affinity is per
// thread, so the only clean way is to set it on this thread and exec the
// program again: every thread of the new image inherits it, and so does the
// GOMAXPROCS read at startup.
func pinSelf(o options) error {
	if !o.pin {
		return nil
	}
	if o.proxyCPU == o.benchCPU {
		return fmt.Errorf("-proxy-cpu and -bench-cpu are both %d; they must differ", o.proxyCPU)
	}
	if os.Getenv(pinnedEnv) == "1" {
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(0, &set); err != nil {
			return fmt.Errorf("read CPU affinity: %w", err)
		}
		if set.Count() != 1 || !set.IsSet(o.benchCPU) || runtime.GOMAXPROCS(0) != 1 {
			return fmt.Errorf("re-executed but not pinned to CPU %d with GOMAXPROCS=1 (%d CPUs allowed, GOMAXPROCS=%d)",
				o.benchCPU, set.Count(), runtime.GOMAXPROCS(0))
		}
		return nil
	}
	if runtime.NumCPU() < 2 {
		return fmt.Errorf("pinning needs 2 CPUs, this process may use %d; run with -pin=false to measure unpinned", runtime.NumCPU())
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable to re-exec pinned: %w", err)
	}
	runtime.LockOSThread() // exec from the thread whose affinity we set
	var set unix.CPUSet
	set.Set(o.benchCPU)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("pin to CPU %d: %w", o.benchCPU, err)
	}
	env := []string{"GOMAXPROCS=1", pinnedEnv + "=1"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOMAXPROCS=") && !strings.HasPrefix(kv, pinnedEnv+"=") {
			env = append(env, kv)
		}
	}
	return fmt.Errorf("re-exec pinned: %w", syscall.Exec(self, os.Args, env))
}
