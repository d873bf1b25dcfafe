package termrelay

import (
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// openPTY allocates a pty pair. The master is pollable (its reads can be
// woken by a deadline, so the relay can always stop), and the slave comes
// from TIOCGPTPEER on the master rather than a lookup of /dev/pts/N by name,
// so no other process can slip a different device in between. creack/pty
// would do the same job but switches its fds to blocking mode (it calls
// Fd()), which leaves a read nothing can interrupt.
func openPTY() (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open a pty: %w", err)
	}
	var sfd int
	err = control(master, func(fd int) error {
		if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
			return fmt.Errorf("unlock the pty: %w", err)
		}
		r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
		if errno != 0 {
			return fmt.Errorf("open the pty's slave: %w", errno)
		}
		sfd = int(r)
		return nil
	})
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, os.NewFile(uintptr(sfd), "pty slave"), nil
}

// reopen opens the terminal t is open on again, as a file description of
// the relay's own: making it non-blocking (so its reads can be woken) then
// changes nothing for the operator's shell, which shares t's description.
func reopen(t *os.File) (*os.File, error) {
	var path string
	if err := control(t, func(fd int) error {
		if _, err := unix.IoctlGetTermios(fd, unix.TCGETS); err != nil {
			return fmt.Errorf("%s is not a terminal: %w", t.Name(), err)
		}
		path = "/proc/self/fd/" + strconv.Itoa(fd)
		return nil
	}); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("open the terminal again: %w", err)
	}
	return f, nil
}

// copySize gives to the size from.
func copySize(from, to *os.File) error {
	var ws *unix.Winsize
	if err := control(from, func(fd int) (err error) {
		ws, err = unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
		return err
	}); err != nil {
		return fmt.Errorf("terminal size: %w", err)
	}
	return control(to, func(fd int) error { return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, ws) })
}

// makeRaw puts t in raw mode and returns what puts it back.
func makeRaw(t *os.File) (restore func(), err error) {
	var old *term.State
	if err := control(t, func(fd int) (err error) {
		old, err = term.MakeRaw(fd)
		return err
	}); err != nil {
		return nil, fmt.Errorf("raw mode: %w", err)
	}
	return func() { control(t, func(fd int) error { return term.Restore(fd, old) }) }, nil
}

// control runs f on f's descriptor without Fd(), which would make the file
// blocking.
func control(file *os.File, f func(fd int) error) error {
	rc, err := file.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}
