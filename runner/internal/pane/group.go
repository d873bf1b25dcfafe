package pane

import (
	"errors"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// group is the process group of the command a pane runs. It is signalled
// only while its number is still the group's: the leader is not reaped
// until the pane is done signalling the group, and a signal after that is
// dropped. pid numbers come round fast (pid_max is often 32768), and a
// kill(-pgid) once the leader was reaped and its group emptied would reach
// whatever unrelated process got the number as its own group.
type group struct {
	mu     sync.Mutex
	pgid   int
	reaped bool
}

// kill signals the whole group, unless it is gone.
func (g *group) kill(sig syscall.Signal) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.reaped {
		syscall.Kill(-g.pgid, sig)
	}
}

// waitExit blocks until the leader has exited, without reaping it: its
// zombie keeps the number from being given to another process.
func (g *group) waitExit() error {
	var si unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, g.pgid, &si, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// reap reaps the leader with wait (the command's Wait); kill does nothing
// from then on.
func (g *group) reap(wait func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	err := wait()
	g.reaped = true
	return err
}
