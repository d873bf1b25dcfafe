package sdnotify

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// fakeSystemd is the receiving end of NOTIFY_SOCKET, set up the way systemd
// sets up its own: a unixgram socket with SO_PASSCRED, so each message
// arrives with the sender's credentials, which is how systemd attributes a
// message to a unit.
type fakeSystemd struct {
	t    *testing.T
	conn *net.UnixConn
}

// listenPath binds a socket in a temporary directory and points
// NOTIFY_SOCKET at it.
func listenPath(t *testing.T) *fakeSystemd {
	t.Helper()
	// Short directory: sun_path holds 108 bytes and t.TempDir can be long.
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return listen(t, filepath.Join(dir, "notify"))
}

// listenAbstract binds a socket in the abstract namespace ("@name").
func listenAbstract(t *testing.T) *fakeSystemd {
	t.Helper()
	return listen(t, fmt.Sprintf("@clem-sdnotify-test-%d-%d", os.Getpid(), time.Now().UnixNano()))
}

func listen(t *testing.T, addr string) *fakeSystemd {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	raw, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_PASSCRED, 1)
	}); err != nil || serr != nil {
		t.Fatalf("SO_PASSCRED: %v %v", err, serr)
	}
	t.Setenv("NOTIFY_SOCKET", addr)
	return &fakeSystemd{t: t, conn: conn}
}

// recv returns the next message and checks it came from this process, as
// systemd would before accepting it.
func (s *fakeSystemd) recv(timeout time.Duration) (string, error) {
	s.t.Helper()
	buf := make([]byte, 8192)
	oob := make([]byte, syscall.CmsgSpace(syscall.SizeofUcred))
	s.conn.SetReadDeadline(time.Now().Add(timeout))
	n, oobn, flags, _, err := s.conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return "", err
	}
	if flags&syscall.MSG_TRUNC != 0 {
		s.t.Fatalf("message truncated")
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		s.t.Fatalf("control messages = %v, %v; want one SCM_CREDENTIALS", msgs, err)
	}
	cred, err := syscall.ParseUnixCredentials(&msgs[0])
	if err != nil {
		s.t.Fatalf("ParseUnixCredentials: %v", err)
	}
	if int(cred.Pid) != os.Getpid() {
		s.t.Errorf("sender pid = %d, want %d", cred.Pid, os.Getpid())
	}
	return string(buf[:n]), nil
}

// mustRecv is recv that fails the test on timeout.
func (s *fakeSystemd) mustRecv() string {
	s.t.Helper()
	msg, err := s.recv(5 * time.Second)
	if err != nil {
		s.t.Fatalf("no notify message: %v", err)
	}
	return msg
}
