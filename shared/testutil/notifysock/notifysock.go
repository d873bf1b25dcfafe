// Package notifysock is a test's stand-in for systemd's NOTIFY_SOCKET: it
// points the environment at a fresh datagram socket, reads it all the
// time (a unix datagram queue holds a few messages, and a full one would
// block the daemon's sd_notify) and lets the test wait for a message
// (READY=1, the READY=1 that ends a reload, a STATUS) instead of for time.
// Every daemon's tests import it.
package notifysock

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// waitLimit only turns a daemon that never sends into a failed test
// rather than a hung one.
const waitLimit = time.Minute

// Socket hears what the process tells systemd.
type Socket struct {
	t     testing.TB
	path  string
	msgs  chan string
	marks int
}

// Listen points NOTIFY_SOCKET at a fresh socket for the rest of the test.
// A watchdog > 0 sets WATCHDOG_USEC as systemd does for WatchdogSec=
// (and clears WATCHDOG_PID); 0 clears both, so no watchdog runs.
func Listen(t testing.TB, watchdog time.Duration) *Socket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_PID", "")
	t.Setenv("WATCHDOG_USEC", "")
	if watchdog > 0 {
		t.Setenv("WATCHDOG_USEC", strconv.FormatInt(watchdog.Microseconds(), 10))
	}
	s := &Socket{t: t, path: path, msgs: make(chan string, 1<<14)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			select {
			case s.msgs <- string(buf[:n]):
			default: // nobody has read the last 16384: drop
			}
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return s
}

// Next waits for the next message.
func (s *Socket) Next() string {
	s.t.Helper()
	select {
	case m := <-s.msgs:
		return m
	case <-time.After(waitLimit):
		s.t.Fatalf("no sd_notify message within %s", waitLimit)
		return ""
	}
}

// Until waits for a message ok accepts and returns the ones before it.
func (s *Socket) Until(ok func(string) bool) (before []string) {
	s.t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case m := <-s.msgs:
			if ok(m) {
				return before
			}
			before = append(before, m)
		case <-deadline:
			s.t.Fatalf("the awaited sd_notify message did not come within %s; got %q", waitLimit, before)
			return nil
		}
	}
}

// UntilPrefix waits for a message starting with prefix.
func (s *Socket) UntilPrefix(prefix string) []string {
	s.t.Helper()
	return s.Until(func(m string) bool { return strings.HasPrefix(m, prefix) })
}

// Pending returns what the process has sent so far and the test has not
// read, without waiting for anything more: it sends a marker of its own
// through the socket and reads up to it, and a unix datagram socket keeps
// its senders' order, so everything sent before the call is in.
func (s *Socket) Pending() []string {
	s.t.Helper()
	s.marks++
	mark := "notifysock-mark=" + strconv.Itoa(s.marks)
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: s.path, Net: "unixgram"})
	if err != nil {
		s.t.Fatalf("notifysock: %v", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(mark)); err != nil {
		s.t.Fatalf("notifysock: %v", err)
	}
	return s.Until(func(m string) bool { return m == mark })
}
