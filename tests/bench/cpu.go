package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat times; 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// cpuTime is the user+system CPU time process pid has used so far; pid 0
// is this process.
func cpuTime(pid int) (time.Duration, error) {
	if pid == 0 {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			return 0, err
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the parenthesised command name, which may hold spaces;
	// utime and stime are fields 14 and 15 of the whole line.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime %q %q", pid, f[11], f[12])
	}
	return time.Duration(u+s) * time.Second / clockTicks, nil
}

// machineTime is the CPU time all CPUs spent running tasks (user, nice,
// system; IRQ time is counted apart by the kernel) and lost to the
// hypervisor (steal), from /proc/stat.
func machineTime() (busy, steal time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var v [8]int64
	for i := range v {
		v[i], _ = strconv.ParseInt(f[i+1], 10, 64)
	}
	tick := func(n int64) time.Duration { return time.Duration(n) * time.Second / clockTicks }
	return tick(v[0] + v[1] + v[2]), tick(v[7]), nil
}

// cpuMeter measures how busy this process, pipelock and everything else on
// the machine were over a run, as shares of one core.
type cpuMeter struct {
	pid                       int
	start                     time.Time
	self, proxy, busy, stolen time.Duration
}

// usage is what a cpuMeter found.
type usage struct {
	self, proxy float64 // the bench and pipelock
	others      float64 // every other task, plus time stolen by the hypervisor
}

func startCPU(pid int) cpuMeter {
	m := cpuMeter{pid: pid, start: time.Now()}
	m.self, _ = cpuTime(0)
	m.proxy, _ = cpuTime(pid)
	m.busy, m.stolen, _ = machineTime()
	return m
}

func (m cpuMeter) stop() usage {
	wall := time.Since(m.start).Seconds()
	s, _ := cpuTime(0)
	p, _ := cpuTime(m.pid)
	b, st, _ := machineTime()
	self, proxy := (s - m.self).Seconds(), (p - m.proxy).Seconds()
	others := (b - m.busy).Seconds() - self - proxy + (st - m.stolen).Seconds()
	return usage{self: self / wall, proxy: proxy / wall, others: max(others, 0) / wall}
}

// String is for the progress lines.
func (u usage) String() string {
	return fmt.Sprintf("CPU busy: bench %.0f%%, pipelock %.0f%%, others %.0f%%", 100*u.self, 100*u.proxy, 100*u.others)
}
