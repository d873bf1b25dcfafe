package daemon

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeSystemd is a NOTIFY_SOCKET that records what the watchdog sends.
type fakeSystemd struct {
	t    *testing.T
	conn *net.UnixConn
	seen []string
}

// notifySocket points NOTIFY_SOCKET at a fresh socket and sets
// WATCHDOG_USEC to watchdog, as systemd does for WatchdogSec=.
func notifySocket(t *testing.T, watchdog time.Duration) *fakeSystemd {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", strconv.FormatInt(watchdog.Microseconds(), 10))
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	return &fakeSystemd{t: t, conn: conn}
}

// until reads messages until one starts with prefix and returns those
// before it. The deadline only turns a watchdog that never sends it into
// a failure instead of a hang.
func (f *fakeSystemd) until(prefix string) []string {
	f.t.Helper()
	var before []string
	buf := make([]byte, 4096)
	for {
		f.conn.SetReadDeadline(time.Now().Add(time.Minute))
		n, err := f.conn.Read(buf)
		if err != nil {
			f.t.Fatalf("waiting for %q from the watchdog: %v; got %q", prefix, err, before)
		}
		m := string(buf[:n])
		f.seen = append(f.seen, m)
		if strings.HasPrefix(m, prefix) {
			return before
		}
		before = append(before, m)
	}
}

// adminClient talks HTTP to an admin unix socket.
func adminClient(socket string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableKeepAlives: true,
	}}
}

// admin sends method path to the admin socket and returns the status and
// body.
func admin(t *testing.T, socket, method, path string) (int, string) {
	t.Helper()
	c := adminClient(socket)
	defer c.CloseIdleConnections()
	req, err := http.NewRequest(method, "http://admin"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, socket, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}
