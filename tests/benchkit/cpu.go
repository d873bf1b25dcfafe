package benchkit

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

// CPUTime is the user+system CPU time process pid has used so far; pid 0
// is this process.
func CPUTime(pid int) (time.Duration, error) {
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

// MachineTime is the CPU time all CPUs spent running tasks (user, nice,
// system; IRQ time is counted apart by the kernel) and lost to the
// hypervisor (steal), from /proc/stat.
func MachineTime() (busy, steal time.Duration, err error) {
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

// CPUMeter measures how busy this process, some child processes and
// everything else on the machine were over a run, as shares of one core.
// A sample that cannot be read counts as zero.
type CPUMeter struct {
	pids  []int
	start time.Time
	t     []time.Duration // this process, each pid, then the machine (busy + steal)
}

// CPUUsage is what a CPUMeter found, as shares of one core.
type CPUUsage struct {
	Self   float64   // this process: the load generator and upstream
	Procs  []float64 // each pid given to StartCPU, in order
	Others float64   // every other task, plus time stolen by the hypervisor
}

// StartCPU starts measuring this process and pids.
func StartCPU(pids ...int) *CPUMeter {
	m := &CPUMeter{pids: pids, start: time.Now()}
	m.t = m.sample()
	return m
}

func (m *CPUMeter) sample() []time.Duration {
	t := make([]time.Duration, 0, len(m.pids)+2)
	self, _ := CPUTime(0)
	t = append(t, self)
	for _, pid := range m.pids {
		p, _ := CPUTime(pid)
		t = append(t, p)
	}
	busy, steal, _ := MachineTime()
	return append(t, busy+steal)
}

// Stop ends the measurement.
func (m *CPUMeter) Stop() CPUUsage {
	wall := time.Since(m.start).Seconds()
	now := m.sample()
	d := make([]float64, len(now))
	for i := range d {
		d[i] = (now[i] - m.t[i]).Seconds()
	}
	others := d[len(d)-1]
	for _, v := range d[:len(d)-1] {
		others -= v
	}
	u := CPUUsage{Self: d[0] / wall, Others: max(others, 0) / wall}
	for _, v := range d[1 : len(d)-1] {
		u.Procs = append(u.Procs, v/wall)
	}
	return u
}
