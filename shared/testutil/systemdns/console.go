package systemdns

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// consoleKeep is how much of the console's output is kept (the tail).
const consoleKeep = 64 << 10

// console is the pty that becomes the machine's /dev/console: PID 1 prints
// its status lines there, and errors from before journald runs.
type console struct {
	master *os.File
	mu     sync.Mutex
	buf    []byte
	done   chan struct{}
}

// openConsole allocates a pty; the caller hands slave to the machine's first
// process (as its controlling terminal) and closes its own copy.
func openConsole() (*console, *os.File, error) {
	// Non-blocking, so that the runtime poller owns it and Close ends a Read.
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	master := os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	slave, err := os.OpenFile(name, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("open %s: %w", name, err)
	}
	c := &console{master: master, done: make(chan struct{})}
	go c.drain()
	return c, slave, nil
}

// drain keeps the tail of what the machine writes; it ends when the last
// process holding the pty's other side is gone (EIO) or on Close.
func (c *console) drain() {
	defer close(c.done)
	b := make([]byte, 4096)
	for {
		n, err := c.master.Read(b)
		if n > 0 {
			c.mu.Lock()
			c.buf = append(c.buf, b[:n]...)
			if len(c.buf) > consoleKeep {
				c.buf = append([]byte(nil), c.buf[len(c.buf)-consoleKeep:]...)
			}
			c.mu.Unlock()
		}
		if err != nil {
			if !errors.Is(err, unix.EIO) && !errors.Is(err, os.ErrClosed) {
				c.mu.Lock()
				c.buf = append(c.buf, fmt.Sprintf("\n[systemdns: console read: %v]\n", err)...)
				c.mu.Unlock()
			}
			return
		}
	}
}

// String is the tail of the console output.
func (c *console) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.buf)
}

// settle waits up to d for the last writer to go, so that String has
// everything the machine wrote before it exited.
func (c *console) settle(d time.Duration) {
	select {
	case <-c.done:
	case <-time.After(d):
	}
}

func (c *console) Close() {
	c.master.Close()
	<-c.done
}
