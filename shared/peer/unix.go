package peer

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// Cred is who the kernel says is at the other end of a Unix socket.
type Cred struct {
	UID, GID uint32
	PID      int32
}

// UnixPeer returns the credentials of the process that connected c (or
// created the socket pair), as the kernel recorded them at connect time
// (SO_PEERCRED). The PID may since have exited or been reused; the UID and
// GID are the ones to decide on.
func UnixPeer(c *net.UnixConn) (Cred, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return Cred{}, fmt.Errorf("peer of unix socket %v: %w", c.LocalAddr(), err)
	}
	var uc *unix.Ucred
	var serr error
	if err := rc.Control(func(fd uintptr) {
		uc, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Cred{}, fmt.Errorf("peer of unix socket %v: %w", c.LocalAddr(), err)
	}
	if serr != nil {
		return Cred{}, fmt.Errorf("peer of unix socket %v: SO_PEERCRED: %w", c.LocalAddr(), serr)
	}
	return Cred{UID: uc.Uid, GID: uc.Gid, PID: uc.Pid}, nil
}
