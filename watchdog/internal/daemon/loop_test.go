package daemon

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLoopNotifies: READY only after a round that could read systemd,
// STATUS every round, WATCHDOG pings while rounds run, STOPPING at the end.
func TestLoopNotifies(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))

	f := newFixture(t, true)
	f.units.down = true
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Loop(ctx, f.w, time.Second, f.w.d.Log) }()

	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	next := func(want string) []string {
		t.Helper()
		var seen []string
		deadline := time.After(10 * time.Second)
		for {
			select {
			case m := <-msgs:
				seen = append(seen, m)
				if strings.HasPrefix(m, want) {
					return seen
				}
			case <-deadline:
				t.Fatalf("no %q from the loop; got %q", want, seen)
			}
		}
	}
	seen := next("STATUS=blind: cannot read unit state from systemd")
	for _, m := range seen {
		if m == "READY=1" {
			t.Fatalf("READY before a round could read systemd: %q", seen)
		}
	}
	next("WATCHDOG=1")
	f.units.mu.Lock()
	f.units.down = false
	f.units.mu.Unlock()
	next("READY=1")
	next("STATUS=2 units ok")
	cancel()
	next("STOPPING=1")
	if err := <-done; err != nil {
		t.Errorf("Loop = %v", err)
	}
}
