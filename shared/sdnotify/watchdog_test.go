package sdnotify

import (
	"context"
	"errors"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

func TestWatchdogInterval(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	tests := []struct {
		name, usec, pid string
		want            time.Duration
		wantOK          bool
	}{
		{name: "unset"},
		{name: "30s", usec: "30000000", want: 30 * time.Second, wantOK: true},
		{name: "our pid", usec: "500000", pid: self, want: 500 * time.Millisecond, wantOK: true},
		{name: "another pid", usec: "500000", pid: strconv.Itoa(os.Getpid() + 1)},
		{name: "bad pid", usec: "500000", pid: "self"},
		{name: "zero", usec: "0"},
		{name: "negative", usec: "-5"},
		{name: "garbage", usec: "30s"},
		{name: "overflows Duration", usec: "18446744073709551"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("WATCHDOG_USEC", tt.usec)
			t.Setenv("WATCHDOG_PID", tt.pid)
			got, ok := WatchdogInterval()
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("WatchdogInterval() with WATCHDOG_USEC=%q WATCHDOG_PID=%q = %v, %v; want %v, %v",
					tt.usec, tt.pid, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestRunWatchdogPingsOnlyWhileHealthy(t *testing.T) {
	sd := listenAbstract(t)
	const interval = 40 * time.Millisecond
	t.Setenv("WATCHDOG_USEC", strconv.FormatInt(interval.Microseconds(), 10))
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))

	var ok atomic.Bool
	var unhealthyProbes atomic.Int32
	ok.Store(true)
	probe := func() bool {
		v := ok.Load()
		if !v {
			unhealthyProbes.Add(1)
		}
		return v
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { RunWatchdog(ctx, probe); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	start := time.Now()
	for range 3 {
		if got := sd.mustRecv(); got != "WATCHDOG=1" {
			t.Fatalf("while healthy: systemd got %q, want WATCHDOG=1", got)
		}
	}
	// Three pings at interval/2 take about 1.5 intervals; far fewer or more
	// means the period is wrong.
	if el := time.Since(start); el < interval || el > 50*interval {
		t.Errorf("three pings took %v, want about %v", el, 3*interval/2)
	}

	ok.Store(false)
	// Each ping is sent before the next probe runs, so once an unhealthy
	// probe is seen every ping from a healthy one is already queued.
	waitFor(t, "an unhealthy probe", func() bool { return unhealthyProbes.Load() > 0 })
	for {
		if _, err := sd.recv(10 * time.Millisecond); err != nil {
			break
		}
	}
	waitFor(t, "four unhealthy probes", func() bool { return unhealthyProbes.Load() >= 4 })
	if msg, err := sd.recv(3 * interval); err == nil {
		t.Fatalf("after healthy() turned false systemd still got %q", msg)
	} else if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("recv: %v", err)
	}

	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunWatchdog did not return after ctx was cancelled")
	}
}

func TestRunWatchdogWithoutWatchdogReturns(t *testing.T) {
	listenPath(t)
	t.Setenv("WATCHDOG_USEC", "")
	done := make(chan struct{})
	go func() {
		RunWatchdog(context.Background(), func() bool { t.Error("health probe ran without a watchdog"); return true })
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunWatchdog without WATCHDOG_USEC did not return")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
