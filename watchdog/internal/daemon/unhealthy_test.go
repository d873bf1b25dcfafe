package daemon

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/coordapi"
	"github.com/clemhq/clem/shared/lifecycle"
	"github.com/clemhq/clem/shared/testutil/notifysock"
	"github.com/clemhq/clem/watchdog/internal/health"
	"github.com/clemhq/clem/watchdog/internal/systemd"
)

const vaultUnit = "clem-p-vault.service"

// TestUnhealthyDaemonAlertsOncePerOutage: a daemon served by
// shared/lifecycle, as every clem daemon is, whose probe fails and then
// passes again, asked over its real admin socket. The watchdog alerts
// (cause "unhealthy") only after alert.failures bad checks, once however
// long the outage lasts, and says once that it recovered; a second outage
// after the cooldown is a second alert. The control: the same daemon
// healthy raises nothing.
func TestUnhealthyDaemonAlertsOncePerOutage(t *testing.T) {
	sd := notifysock.Listen(t, time.Hour) // READY says the admin socket is open
	sock := filepath.Join(t.TempDir(), "vault", "admin.sock")
	var broken atomic.Pointer[error]
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- lifecycle.Run(ctx, lifecycle.Service{
			Name:  "vault",
			Log:   slog.New(slog.DiscardHandler),
			Admin: sock,
			Probe: func(context.Context) error {
				if e := broken.Load(); e != nil {
					return *e
				}
				return nil
			},
			Signals: make(chan os.Signal),
		})
	}()
	t.Cleanup(func() { cancel(); <-served })

	f := newFixtureWith(t, true, "\n[[daemon]]\nrole = \"vault\"\nunit = \""+vaultUnit+"\"\nhealth = \""+sock+"\"\n")
	f.units.set(vaultUnit, func(s *systemd.State) {
		*s = f.units.units[pipeUnit]
		s.Name = vaultUnit
	})
	f.w.d.Health = func(ctx context.Context, socket string) error {
		if socket != sock {
			return nil // pipelock's socket is not served here
		}
		return health.Probe(ctx, socket)
	}
	sd.UntilPrefix("READY=1")

	for range 4 { // control: healthy
		f.round(t)
	}
	if got := f.coord.Got(); len(got) != 0 {
		t.Fatalf("alerts for a healthy daemon: %+v", got)
	}

	outage := func(n int) {
		t.Helper()
		err := errors.New("CA cannot mint a leaf: key unreadable")
		broken.Store(&err)
		before := len(f.coord.Got())
		for range 2 {
			f.round(t)
		}
		if got := f.coord.Got(); len(got) != before {
			t.Fatalf("outage %d: alerted after 2 bad checks with failures = 3: %+v", n, got[before:])
		}
		for range 5 {
			f.round(t)
		}
		got := f.coord.Got()[before:]
		if len(got) != 1 || got[0].Subject != "daemon vault" || got[0].Severity != coordapi.Critical ||
			!strings.HasPrefix(got[0].Body, "daemon vault ("+vaultUnit+"): health check failed: HTTP 503: CA cannot mint a leaf: key unreadable. 3 bad checks in 30s") {
			t.Fatalf("outage %d: alerts %+v, want exactly one", n, got)
		}
		broken.Store(nil)
		for range 5 {
			f.round(t)
		}
		got = f.coord.Got()[before:]
		if len(got) != 2 || got[1].Severity != coordapi.Resolved || !strings.HasPrefix(got[1].Body, "daemon vault ("+vaultUnit+") recovered from its health check failing: 3 good checks in a row.") {
			t.Fatalf("outage %d over: %+v, want one recovery", n, got)
		}
	}
	outage(1)
	f.clock.now = f.clock.now.Add(time.Hour) // past the cooldown
	f.states[leadFile].Updated, f.states[leadFile].NextAt = f.clock.now, f.clock.now.Add(time.Hour)
	outage(2)
	if n := strings.Count(f.logs.String(), `"msg":"alert","subject":"daemon vault","cause":"unhealthy"`); n != 2 {
		t.Errorf("journal: %d alerts with cause unhealthy, want 2:\n%s", n, f.logs)
	}
}
