package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/clemhq/clem/shared/peer"
	"github.com/clemhq/clem/sidecar/internal/backend"
)

// probeWithin runs d.Probe with a deadline: the deadline is what a wedged
// probe must honour, not a measure of speed.
func probeWithin(d *Daemon, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.Probe(ctx)
}

// started waits until server's child answered a call, so it is up.
func started(t *testing.T, e *env, server string) {
	t.Helper()
	if text, _, err := callOnce(e.url(server), "echo", map[string]any{"text": "up"}); err != nil || text != "up" {
		t.Fatalf("first call to %s: %q, %v", server, text, err)
	}
}

// stuckListener is a listener whose Accept waits until released: the
// kernel still completes connections into the backlog, as it does for a
// daemon whose accept loop is wedged.
type stuckListener struct {
	net.Listener
	release   chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
}

func (l *stuckListener) Accept() (net.Conn, error) {
	select {
	case <-l.release:
	case <-l.closed:
		return nil, net.ErrClosed
	}
	return l.Listener.Accept()
}

func (l *stuckListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// TestProbeFailsWhenBroken: for each thing the probe goes through, break
// it and see the probe fail with a reason naming it; the control row and
// the repair show the same probe passing when the thing is intact.
func TestProbeFailsWhenBroken(t *testing.T) {
	identify := func(l, r netip.AddrPort) (uint32, error) { uid, _, err := peer.TCPPeerUIDAddr(l, r); return uid, err }
	cases := []struct {
		name string
		// stuck makes the port's accept loop wait until released.
		stuck bool
		// noIdentity makes the kernel identity lookup fail.
		noIdentity bool
		// brk breaks the thing and returns its repair (nil: none).
		brk  func(t *testing.T, e *env, d *Daemon) func()
		want string // "" = the probe passes
	}{
		{name: "intact", brk: func(*testing.T, *env, *Daemon) func() { return nil }},
		{name: "listener closed", want: "connect:", brk: func(t *testing.T, e *env, d *Daemon) func() {
			d.ports["tools"].ln.Close()
			// The port's server reports it: Run ends and the unit fails.
			if err := <-d.failed; !strings.Contains(err.Error(), "server tools on") {
				t.Errorf("failed = %v", err)
			}
			return nil
		}},
		{name: "accept loop stuck", stuck: true, want: "did not accept and identify", brk: func(t *testing.T, e *env, d *Daemon) func() {
			// The control: a bare connect (the old check) still succeeds.
			c, err := net.Dial("tcp", e.d.Addr("tools"))
			if err != nil {
				t.Fatalf("a bare connect to a stuck port failed: %v", err)
			}
			c.Close()
			return nil
		}},
		{name: "identity lookup fails", noIdentity: true, want: "identity lookup (sock_diag) of the probe's own connection", brk: func(*testing.T, *env, *Daemon) func() { return nil }},
		{name: "config lock held forever", want: "config lock is held", brk: func(t *testing.T, e *env, d *Daemon) func() {
			d.mu.lock()
			return d.mu.unlock
		}},
		{name: "child stopped", want: "does not answer tools/list", brk: func(t *testing.T, e *env, d *Daemon) func() {
			pid := int(d.Relay("tools").Backend("").(*backend.Child).PID.Load())
			stopChild(t, pid)
			cont := func() { syscall.Kill(pid, syscall.SIGCONT) }
			t.Cleanup(cont)
			return cont
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			oneServer(e, "")
			var broken atomic.Bool
			o := Options{Identify: func(l, r netip.AddrPort) (uint32, error) {
				if broken.Load() {
					return 0, errors.New("sock_diag: no such socket (broken for the test)")
				}
				return identify(l, r)
			}}
			var stuck *stuckListener
			if tc.stuck {
				o.Listen = func(addr string) (net.Listener, error) {
					ln, err := net.Listen("tcp", addr)
					if err != nil {
						return nil, err
					}
					stuck = &stuckListener{Listener: ln, release: make(chan struct{}), closed: make(chan struct{})}
					return stuck, nil
				}
			}
			d := e.start(o)
			if stuck == nil {
				started(t, e, "tools")
				if err := probeWithin(d, 30*time.Second); err != nil {
					t.Fatalf("probe before breaking: %v", err)
				}
			}
			broken.Store(tc.noIdentity)
			repair := tc.brk(t, e, d)
			err := probeWithin(d, time.Second)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("probe of an intact sidecar: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("probe = %v, want an error with %q", err, tc.want)
			}
			broken.Store(false)
			if stuck != nil {
				close(stuck.release)
				repair = func() {}
			}
			if repair != nil {
				repair()
				if err := probeWithin(d, 30*time.Second); err != nil {
					t.Errorf("probe after the repair: %v", err)
				}
			}
		})
	}
}

// TestProbeBusyChildIsNotWedged: a child that handles one request at a
// time does not answer while a call is in flight; the probe does not take
// that for a wedge (the call has its own call_timeout). Once the call is
// over, the same stopped child fails the probe (the control).
func TestProbeBusyChildIsNotWedged(t *testing.T) {
	e := newEnv(t)
	oneServer(e, "")
	d := e.start(Options{})
	started(t, e, "tools")
	startedFIFO, releaseFIFO := filepath.Join(e.dir, "started"), filepath.Join(e.dir, "release")
	for _, f := range []string{startedFIFO, releaseFIFO} {
		if err := syscall.Mkfifo(f, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() {
		text, isErr, err := callOnce(e.url("tools"), "block", map[string]any{"started": startedFIFO, "release": releaseFIFO})
		if err == nil && (isErr || text != "released") {
			err = fmt.Errorf("block = %q (tool error %v)", text, isErr)
		}
		done <- err
	}()
	// The tool writes here once it runs: the call is in flight.
	if _, err := os.ReadFile(startedFIFO); err != nil {
		t.Fatal(err)
	}
	pid := int(d.Relay("tools").Backend("").(*backend.Child).PID.Load())
	stopChild(t, pid)
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
	if err := probeWithin(d, time.Second); err != nil {
		t.Errorf("probe with a call in flight to a stopped child: %v", err)
	}
	syscall.Kill(pid, syscall.SIGCONT)
	if err := os.WriteFile(releaseFIFO, nil, 0); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := d.Relay("tools").CallsInFlight(); n != 0 {
		t.Fatalf("%d calls in flight after the call returned", n)
	}
	stopChild(t, pid)
	if err := probeWithin(d, time.Second); err == nil || !strings.Contains(err.Error(), "does not answer") {
		t.Errorf("probe of an idle stopped child = %v, want it to fail", err)
	}
}

// TestCrashLoopingChildIsDegradedNotDead: a child that exits at once is
// restarted by its supervisor forever; sidecar reports it (Degraded, so
// /healthz says 503 and the watchdog alerts) but its probe passes, so
// systemd does not restart sidecar and cut the other servers' calls.
func TestCrashLoopingChildIsDegradedNotDead(t *testing.T) {
	e := newEnv(t)
	oneServer(e, `
[[server]]
name = "broken"
listen = "127.0.0.1:0"
command = ["`+e.bin+`", "`+modeExit+`"]
agents = ["lead"]
`)
	d := e.start(Options{})
	started(t, e, "tools")
	if err := probeWithin(d, 30*time.Second); err != nil {
		t.Errorf("probe with a crash-looping child: %v", err)
	}
	if err := d.Degraded(); err == nil || !strings.Contains(err.Error(), "server broken down") {
		t.Errorf("Degraded = %v, want the broken server named", err)
	}
	// The control: without the broken server, nothing is degraded.
	oneServer(e, "")
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := d.Degraded(); err != nil {
		t.Errorf("Degraded with only a running server: %v", err)
	}
}

// stopChild stops the child pid and waits until all its threads have
// stopped (the kernel tells the parent, this process): a thread still
// running could answer one more request.
func stopChild(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var si unix.Siginfo
	if err := unix.Waitid(unix.P_PID, pid, &si, unix.WSTOPPED|unix.WNOWAIT, nil); err != nil {
		t.Fatalf("wait for child %d to stop: %v", pid, err)
	}
}
