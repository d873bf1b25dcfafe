package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat times.
const clockTicks = 100

// cpuTime is the user+system CPU time process pid has used so far; pid 0
// is this process.
func cpuTime(pid int) time.Duration {
	if pid == 0 {
		var ru syscall.Rusage
		if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
			return 0
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// utime and stime are fields 14 and 15; the command name before them
	// may hold spaces.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * time.Second / clockTicks
}

// machineTime is the CPU time all CPUs spent running tasks plus steal,
// from /proc/stat.
func machineTime() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 {
		return 0
	}
	var sum int64
	for _, i := range []int{1, 2, 3, 8} { // user, nice, system, steal
		n, _ := strconv.ParseInt(f[i], 10, 64)
		sum += n
	}
	return time.Duration(sum) * time.Second / clockTicks
}

// cpuMeter measures how busy the bench, pipelock, agent-vault and
// everything else were over a run, as shares of one core.
type cpuMeter struct {
	pids  [2]int // pipelock, agent-vault
	start time.Time
	t     [4]time.Duration // bench, pipelock, agent-vault, machine
}

type usage struct{ bench, pipelock, vault, others float64 }

func (m *cpuMeter) sample() [4]time.Duration {
	return [4]time.Duration{cpuTime(0), cpuTime(m.pids[0]), cpuTime(m.pids[1]), machineTime()}
}

func startCPU(pipelockPID, vaultPID int) *cpuMeter {
	m := &cpuMeter{pids: [2]int{pipelockPID, vaultPID}, start: time.Now()}
	m.t = m.sample()
	return m
}

func (m *cpuMeter) stop() usage {
	wall := time.Since(m.start).Seconds()
	now := m.sample()
	var d [4]float64
	for i := range d {
		d[i] = (now[i] - m.t[i]).Seconds() / wall
	}
	return usage{bench: d[0], pipelock: d[1], vault: d[2], others: max(d[3]-d[0]-d[1]-d[2], 0)}
}

func (u usage) String() string {
	return fmt.Sprintf("CPU busy: bench %.0f%%, pipelock %.0f%%, agent-vault %.0f%%, others %.0f%%",
		100*u.bench, 100*u.pipelock, 100*u.vault, 100*u.others)
}
