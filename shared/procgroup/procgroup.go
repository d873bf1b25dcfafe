// Package procgroup signals a child's process group only while the group's
// number is still its own. pid numbers come round fast (pid_max is often
// 32768), and kill(-pgid) after the group's leader was reaped and its group
// emptied reaches whatever unrelated process got that number as its own
// group. The rule: wait for the leader's exit without reaping it (its
// zombie keeps the number), signal the group, then reap; no signal after.
// The runner (its pane), sidecar (its children) and the tests (CLI runs)
// import it.
package procgroup

import (
	"errors"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Group is the process group a child leads (started with Setpgid, so its
// pgid is its pid).
type Group struct {
	mu     sync.Mutex
	pgid   int
	reaped bool
}

// Of is the group led by pid.
func Of(pid int) *Group { return &Group{pgid: pid} }

// Kill signals the whole group, unless its leader was reaped.
func (g *Group) Kill(sig syscall.Signal) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.reaped {
		syscall.Kill(-g.pgid, sig)
	}
}

// WaitExit blocks until the leader has exited, without reaping it.
func (g *Group) WaitExit() error {
	var si unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, g.pgid, &si, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// Reap reaps the leader with wait (its exec.Cmd's Wait); Kill does nothing
// from then on.
func (g *Group) Reap(wait func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	err := wait()
	g.reaped = true
	return err
}
