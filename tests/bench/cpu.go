package main

import (
	"fmt"

	"github.com/clemhq/clem/tests/benchkit"
)

// usage is how busy the bench, pipelock and everything else were over a
// run, as shares of one core.
type usage struct{ self, proxy, others float64 }

// startCPU measures this process and pipelock (pid).
func startCPU(pid int) cpuMeter { return cpuMeter{benchkit.StartCPU(pid)} }

type cpuMeter struct{ m *benchkit.CPUMeter }

func (m cpuMeter) stop() usage {
	u := m.m.Stop()
	return usage{self: u.Self, proxy: u.Procs[0], others: u.Others}
}

// String is for the progress lines.
func (u usage) String() string {
	return fmt.Sprintf("CPU busy: bench %.0f%%, pipelock %.0f%%, others %.0f%%", 100*u.self, 100*u.proxy, 100*u.others)
}
