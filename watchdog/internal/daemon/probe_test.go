package daemon

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"

	"github.com/clemhq/clem/watchdog/internal/systemd"
)

// TestProbe breaks each thing the watchdog's probe checks and sees it
// fail; the control is the same watchdog intact.
func TestProbe(t *testing.T) {
	closed := systemd.NewReaderDial(func(context.Context) (*sddbus.Conn, error) {
		return nil, errors.New("the test has no bus")
	})
	closed.Close()
	cases := []struct {
		name    string
		breakIt func(f *fixture, wd *Watchdog)
		want    string // "" = passes
	}{
		{"intact", func(*fixture, *Watchdog) {}, ""},
		{"rounds almost late", func(f *fixture, _ *Watchdog) { f.clock.now = f.clock.now.Add(45*time.Second - time.Nanosecond) }, ""},
		{"rounds stopped finishing", func(f *fixture, _ *Watchdog) { f.clock.now = f.clock.now.Add(45 * time.Second) },
			"no check round has finished for 45s (more than 2 × interval + round timeout = 45s): the check loop is stuck"},
		{"system bus gone", func(f *fixture, _ *Watchdog) { f.units.down = true },
			"cannot read systemd over D-Bus (unit clem-p-agent-lead.service): system bus unreachable"},
		{"reader closed", func(_ *fixture, wd *Watchdog) { wd.d.Units = closed },
			"cannot read systemd over D-Bus (unit clem-p-agent-lead.service): system bus unreachable: systemd reader closed"},
		{"unit unknown to systemd", func(f *fixture, _ *Watchdog) { delete(f.units.units, leadUnit) }, ""},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, true)
			wd := New(f.w.cfg, f.w.d, Options{})
			if err := wd.round(context.Background()); err != nil {
				t.Fatalf("round: %v", err)
			}
			tt.breakIt(f, wd)
			err := wd.Probe(context.Background())
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Probe = %v, want it to pass", err)
			case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
				t.Errorf("Probe = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestProbeBeforeAnyRound: a watchdog whose loop never finished a round
// is not healthy.
func TestProbeBeforeAnyRound(t *testing.T) {
	f := newFixture(t, true)
	wd := New(f.w.cfg, f.w.d, Options{})
	if err := wd.Probe(context.Background()); err == nil || err.Error() != "no check round has finished yet" {
		t.Errorf("Probe = %v", err)
	}
}

// TestProbeWedgedReaderTimesOut: a read of the rounds is stuck holding the
// D-Bus reader (its connect never returns and ignores its context); the
// probe through the same reader ends with its context, failed, instead of
// hanging behind it.
func TestProbeWedgedReaderTimesOut(t *testing.T) {
	f := newFixture(t, true)
	wd := New(f.w.cfg, f.w.d, Options{})
	if err := wd.round(context.Background()); err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	wd.d.Units = systemd.NewReaderDial(func(context.Context) (*sddbus.Conn, error) {
		close(entered)
		<-release
		return nil, errors.New("released")
	})
	stuck := make(chan struct{})
	go func() { defer close(stuck); wd.d.Units.Unit(context.Background(), pipeUnit) }()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := wd.Probe(ctx)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "cannot read systemd over D-Bus") {
		t.Errorf("Probe with the reader wedged = %v, want a D-Bus timeout", err)
	}
	close(release)
	<-stuck
}
