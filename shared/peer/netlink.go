package peer

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// recvTimeout bounds a read from the kernel. The kernel answers sock_diag
// synchronously inside our send, so the reply is queued before the read
// starts; the timeout only keeps a kernel surprise from hanging a caller.
const recvTimeout = 2 * time.Second

// diagConn is one NETLINK_SOCK_DIAG socket with its buffers. It serves one
// lookup at a time; Resolver pools them.
type diagConn struct {
	fd  int
	seq uint32
	req []byte
	buf []byte
}

// openDiagConn opens a sock_diag socket in the network namespace of the
// calling thread; the socket keeps that namespace for its lifetime.
func openDiagConn() (*diagConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("open sock_diag netlink socket: %w", err)
	}
	// Connecting to the kernel (port 0) lets us use plain write and recv.
	if err := unix.Connect(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("connect sock_diag netlink socket: %w", err)
	}
	tv := unix.NsecToTimeval(recvTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("set sock_diag receive timeout: %w", err)
	}
	return &diagConn{
		fd:  fd,
		req: make([]byte, 0, requestLen),
		// One answer is ~100 bytes plus a few attributes; a page is ample.
		buf: make([]byte, 8192),
	}, nil
}

// query asks the kernel for the one TCP socket with tuple id and returns the
// raw datagram that answered it along with the decoded message. The raw
// bytes alias c.buf and are only valid until the next query.
func (c *diagConn) query(family uint8, id sockID) (diagMsg, []byte, error) {
	c.seq++
	c.req = appendRequest(c.req[:0], c.seq, family, id)
	for {
		_, err := unix.Write(c.fd, c.req)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return diagMsg{}, nil, fmt.Errorf("send sock_diag request: %w", err)
		}
		break
	}
	// Replies to earlier requests that we gave up on may still be queued;
	// the sequence number tells ours apart. A few stale ones at most.
	for range 8 {
		// read, not recvfrom: recvfrom allocates the sender's address on
		// every call. A datagram too big for buf would be cut short, and
		// parseResponse would reject its length; answers are far smaller.
		n, err := unix.Read(c.fd, c.buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return diagMsg{}, nil, fmt.Errorf("receive sock_diag answer: %w", err)
		}
		raw := c.buf[:n]
		m, err := parseResponse(raw, c.seq)
		if errors.Is(err, errOtherSeq) {
			continue
		}
		return m, raw, err
	}
	return diagMsg{}, nil, errors.New("receive sock_diag answer: only stale replies")
}

// drain discards anything left in the receive queue after a failed query,
// so the socket can go back to the pool clean.
func (c *diagConn) drain() {
	for {
		_, _, err := unix.Recvfrom(c.fd, c.buf, unix.MSG_DONTWAIT)
		if err != nil && err != unix.EINTR {
			return
		}
	}
}

func (c *diagConn) close() error { return unix.Close(c.fd) }
