package main

import (
	"fmt"

	"github.com/clemhq/clem/tests/benchkit"
)

// pinnedEnv marks the re-executed, pinned process so it does not loop.
const pinnedEnv = "CLEM_BENCH_PINNED"

// pinSelf puts this process on o.benchCPU with GOMAXPROCS=1, so the load
// generator and the upstream share one core and pipelock has the other to
// itself.
func pinSelf(o options) error {
	if !o.pin {
		return nil
	}
	if o.proxyCPU == o.benchCPU {
		return fmt.Errorf("-proxy-cpu and -bench-cpu are both %d; they must differ", o.proxyCPU)
	}
	return benchkit.PinSelf(o.benchCPU, pinnedEnv, "-pin=false to measure unpinned")
}
