package main

import "github.com/clemhq/clem/tests/benchkit"

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

// pinSelf puts this process on the bench CPU with GOMAXPROCS=1. The bench
// CPU is the same in every pinned placement, so -alt can move the daemons
// only.
func pinSelf(o options) error {
	pl := placements[o.placement]
	if pl.bench < 0 {
		return nil
	}
	return benchkit.PinSelf(pl.bench, pinnedEnv, "-placement=none")
}
