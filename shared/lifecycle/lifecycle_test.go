package lifecycle

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/clemhq/clem/shared/admin"
	"github.com/clemhq/clem/shared/testutil/notifysock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// switchProbe is a probe the test turns on and off; each call is announced
// on calls.
type switchProbe struct {
	fail  atomic.Pointer[error]
	calls chan int
	n     atomic.Int64
}

func newSwitchProbe() *switchProbe { return &switchProbe{calls: make(chan int, 1000)} }

func (p *switchProbe) probe(context.Context) error {
	p.calls <- int(p.n.Add(1))
	if e := p.fail.Load(); e != nil {
		return *e
	}
	return nil
}

func (p *switchProbe) set(err error) {
	if err == nil {
		p.fail.Store(nil)
	} else {
		p.fail.Store(&err)
	}
}

// waitCalls waits until the probe has been called n more times.
func (p *switchProbe) waitCalls(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-p.calls:
		case <-time.After(30 * time.Second):
			t.Fatal("probe not called")
		}
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// start runs s in the background; stop cancels it and returns Run's error.
func start(t *testing.T, s Service) (stop func() error) {
	t.Helper()
	if s.Log == nil {
		s.Log = quietLog()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, s) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

func get(t *testing.T, c *http.Client, method, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://admin"+url, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func isWatchdog(m string) bool { return m == "WATCHDOG=1" }

// TestWatchdogOnlyWhileProbePasses: READY first; WATCHDOG pings while the
// probe passes, none while it fails (the control: the same loop pings
// again once it passes), and the failure shows in STATUS.
func TestWatchdogOnlyWhileProbePasses(t *testing.T) {
	sd := notifysock.Listen(t, 200*time.Millisecond)
	p := newSwitchProbe()
	start(t, Service{Name: "d", Probe: p.probe, Status: func() string { return "serving 3 things" }})
	if m := sd.Next(); m != "READY=1" {
		t.Fatalf("first message %q, want READY=1", m)
	}
	if m := sd.Next(); m != "STATUS=serving 3 things" {
		t.Fatalf("after READY: %q", m)
	}
	sd.Until(isWatchdog)

	p.set(errors.New("listener gone"))
	// Once the failing verdict is in STATUS, the loop has decided not to
	// ping for it; two more failing probes later, nothing may have pinged.
	sd.Until(func(m string) bool { return m == "STATUS=unhealthy: listener gone" })
	p.waitCalls(t, len(p.calls)+2)
	for _, m := range sd.Pending() {
		if isWatchdog(m) {
			t.Fatal("WATCHDOG=1 sent while the probe fails")
		}
	}
	p.set(nil)
	sd.Until(isWatchdog)
}

// TestHungProbe: a probe that never returns (a deadlocked daemon) stops
// the pings, /healthz fails rather than hangs, and no second probe starts
// behind it.
func TestHungProbe(t *testing.T) {
	sd := notifysock.Listen(t, 200*time.Millisecond)
	release := make(chan struct{})
	var hung atomic.Bool
	var calls atomic.Int64
	probe := func(ctx context.Context) error {
		calls.Add(1)
		if hung.Load() {
			<-release // ignores ctx, as a deadlock would
		}
		return nil
	}
	adminPath := filepath.Join(t.TempDir(), "admin.sock")
	start(t, Service{Name: "d", Admin: adminPath, Probe: probe})
	sd.Until(isWatchdog) // READY (and so the admin socket) came first
	hung.Store(true)
	sd.Until(func(m string) bool { return strings.HasPrefix(m, "STATUS=unhealthy: health probe did not answer") })
	before := calls.Load()
	code, body := get(t, admin.Client(adminPath), "GET", "/healthz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "did not answer") {
		t.Fatalf("/healthz with a hung probe: %d %q", code, body)
	}
	if after := calls.Load(); after != before {
		t.Fatalf("probe started %d more times while one hangs", after-before)
	}
	for _, m := range sd.Pending() {
		if isWatchdog(m) {
			t.Fatal("WATCHDOG=1 sent while the probe hangs")
		}
	}
	hung.Store(false)
	close(release)
	sd.Until(isWatchdog)
}

// TestReload: SIGHUP and POST /reload both reload between RELOADING=1 and
// READY=1; a refused reload answers 400 with why, and the counters say so.
func TestReload(t *testing.T) {
	sd := notifysock.Listen(t, 0)
	var refuse atomic.Bool
	var applied atomic.Int64
	reload := func() error {
		if refuse.Load() {
			return errors.New("listen.proxy: cannot change without a restart")
		}
		applied.Add(1)
		return nil
	}
	adminPath := filepath.Join(t.TempDir(), "admin.sock")
	hup := make(chan os.Signal, 1)
	start(t, Service{Name: "d", Admin: adminPath, Probe: func(context.Context) error { return nil }, Reload: reload, Signals: hup,
		Metrics: func(w io.Writer) { io.WriteString(w, "d_things 3\n") }})
	sd.Until(func(m string) bool { return m == "READY=1" })
	sd.Next() // STATUS=

	hup <- os.Signal(nil)
	if m := sd.Next(); !strings.HasPrefix(m, "RELOADING=1\nMONOTONIC_USEC=") {
		t.Fatalf("SIGHUP: first message %q, want RELOADING=1", m)
	}
	if m := sd.Next(); m != "READY=1" {
		t.Fatalf("after reload: %q, want READY=1", m)
	}
	c := admin.Client(adminPath)
	if code, body := get(t, c, "POST", "/reload"); code != 200 {
		t.Fatalf("POST /reload: %d %q", code, body)
	}
	if n := applied.Load(); n != 2 {
		t.Fatalf("reloads applied: %d, want 2", n)
	}
	refuse.Store(true)
	code, body := get(t, c, "POST", "/reload")
	if code != http.StatusBadRequest || !strings.Contains(body, "cannot change without a restart") {
		t.Fatalf("refused reload: %d %q", code, body)
	}
	_, metrics := get(t, c, "GET", "/metrics")
	for _, want := range []string{`clem_daemon_reloads_total{daemon="d"} 2`, `clem_daemon_reload_errors_total{daemon="d"} 1`, `clem_daemon_healthy{daemon="d"} 1`, "d_things 3\n"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, metrics)
		}
	}
}

// TestDegraded: a condition a restart cannot fix fails /healthz and shows
// in STATUS, but the pings go on.
func TestDegraded(t *testing.T) {
	sd := notifysock.Listen(t, 200*time.Millisecond)
	var full atomic.Bool
	degraded := func() error {
		if full.Load() {
			return errors.New("audit log: no space left on device")
		}
		return nil
	}
	adminPath := filepath.Join(t.TempDir(), "admin.sock")
	start(t, Service{Name: "d", Admin: adminPath, Probe: func(context.Context) error { return nil }, Degraded: degraded})
	sd.Until(func(m string) bool { return m == "READY=1" })
	c := admin.Client(adminPath)
	if code, _ := get(t, c, "GET", "/healthz"); code != 200 {
		t.Fatalf("/healthz before: %d", code)
	}
	full.Store(true)
	code, body := get(t, c, "GET", "/healthz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "degraded: audit log: no space") {
		t.Fatalf("/healthz degraded: %d %q", code, body)
	}
	sd.Until(func(m string) bool { return strings.HasPrefix(m, "STATUS=degraded: audit log") })
	sd.Until(isWatchdog)
}

// TestStop: stopping says STOPPING=1, drains, removes the admin socket and
// returns nil; a failed listener drains too and returns its error.
func TestStop(t *testing.T) {
	sd := notifysock.Listen(t, 0)
	adminPath := filepath.Join(t.TempDir(), "admin.sock")
	var drained atomic.Int64
	drain := func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("drain without a deadline")
		}
		drained.Add(1)
		return nil
	}
	stop := start(t, Service{Name: "d", Admin: adminPath, Probe: func(context.Context) error { return nil }, Drain: drain})
	sd.Until(func(m string) bool { return m == "READY=1" })
	if err := stop(); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	sd.Until(func(m string) bool { return m == "STOPPING=1" })
	if drained.Load() != 1 {
		t.Fatal("not drained")
	}
	if _, err := os.Lstat(adminPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("admin socket left behind: %v", err)
	}

	failed := make(chan error, 1)
	stop = start(t, Service{Name: "d", Probe: func(context.Context) error { return nil }, Drain: drain, Failed: failed})
	sd.Until(func(m string) bool { return m == "READY=1" })
	failed <- errors.New("proxy listener: use of closed network connection")
	sd.Until(func(m string) bool { return m == "STOPPING=1" })
	if err := stop(); err == nil || !strings.Contains(err.Error(), "proxy listener") {
		t.Fatalf("Run after a failed listener: %v", err)
	}
	if drained.Load() != 2 {
		t.Fatal("not drained after a failed listener")
	}
}

// TestProbeRequired: a daemon without a probe does not start.
func TestProbeRequired(t *testing.T) {
	err := Run(context.Background(), Service{Name: "d", Log: quietLog()})
	if err == nil || !strings.Contains(err.Error(), "no health probe") {
		t.Fatalf("Run without a probe: %v", err)
	}
}
