package main

import (
	"fmt"

	"github.com/clemhq/clem/tests/benchkit"
)

// cpuMeter measures how busy the bench, pipelock, agent-vault and
// everything else were over a run, as shares of one core.
type cpuMeter struct{ m *benchkit.CPUMeter }

type usage struct{ bench, pipelock, vault, others float64 }

func startCPU(pipelockPID, vaultPID int) cpuMeter {
	return cpuMeter{benchkit.StartCPU(pipelockPID, vaultPID)}
}

func (m cpuMeter) stop() usage {
	u := m.m.Stop()
	return usage{bench: u.Self, pipelock: u.Procs[0], vault: u.Procs[1], others: u.Others}
}

func (u usage) String() string {
	return fmt.Sprintf("CPU busy: bench %.0f%%, pipelock %.0f%%, agent-vault %.0f%%, others %.0f%%",
		100*u.bench, 100*u.pipelock, 100*u.vault, 100*u.others)
}

// times scales every share by f.
func (u usage) times(f float64) usage {
	return usage{bench: u.bench * f, pipelock: u.pipelock * f, vault: u.vault * f, others: u.others * f}
}

// plus adds v share by share.
func (u usage) plus(v usage) usage {
	return usage{bench: u.bench + v.bench, pipelock: u.pipelock + v.pipelock, vault: u.vault + v.vault, others: u.others + v.others}
}
