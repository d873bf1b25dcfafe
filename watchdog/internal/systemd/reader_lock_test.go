package systemd

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
)

var errNoBus = errors.New("no bus in this test")

// TestReaderWedgedConnectTimesOut: one read is stuck in a connect that
// never returns (a bus that accepts and never answers, and a dial that
// ignores its context); a second read, the watchdog's health probe,
// gives up when its context ends instead of hanging behind it. The
// control: with no read stuck, the same read reaches the dial and gets
// its error, not a timeout.
func TestReaderWedgedConnectTimesOut(t *testing.T) {
	entered, release := make(chan struct{}, 1), make(chan struct{})
	var wedge atomic.Bool
	r := NewReaderDial(func(context.Context) (*sddbus.Conn, error) {
		if wedge.Load() {
			entered <- struct{}{}
			<-release // ignores its context: the lock stays held
		}
		return nil, errNoBus
	})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := r.Unit(ctx, "x.service"); !errors.Is(err, ErrBus) || !errors.Is(err, errNoBus) {
		t.Fatalf("control: Unit = %v, want the dial's error", err)
	}

	wedge.Store(true)
	stuck := make(chan error, 1)
	go func() {
		_, err := r.Unit(context.Background(), "x.service")
		stuck <- err
	}()
	<-entered
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	_, err := r.Unit(short, "x.service")
	if !errors.Is(err, ErrBus) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Unit behind a wedged connect = %v, want ErrBus and the deadline", err)
	}
	close(release)
	if err := <-stuck; !errors.Is(err, errNoBus) {
		t.Errorf("the wedged read, released: %v", err)
	}
}

// TestReaderClosedStaysClosed: after Close a read fails with ErrClosed and
// does not dial again; before it, the same read dials (the control).
func TestReaderClosedStaysClosed(t *testing.T) {
	var dials atomic.Int32
	r := NewReaderDial(func(context.Context) (*sddbus.Conn, error) {
		dials.Add(1)
		return nil, errNoBus
	})
	if _, err := r.Unit(context.Background(), "x.service"); !errors.Is(err, errNoBus) || dials.Load() != 1 {
		t.Fatalf("open reader: Unit = %v after %d dials, want the dial's error after 1", err, dials.Load())
	}
	r.Close()
	if _, err := r.Unit(context.Background(), "x.service"); !errors.Is(err, ErrClosed) || !errors.Is(err, ErrBus) {
		t.Errorf("closed reader: Unit = %v, want ErrClosed", err)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("a closed reader dialled again: %d dials", n)
	}
}
