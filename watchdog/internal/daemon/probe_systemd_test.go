package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"

	"github.com/clemhq/clem/shared/coordapi"
	"github.com/clemhq/clem/shared/testutil/systemdns"
	"github.com/clemhq/clem/shared/testutil/users"
	"github.com/clemhq/clem/watchdog/internal/config"
	"github.com/clemhq/clem/watchdog/internal/statefile"
	"github.com/clemhq/clem/watchdog/internal/systemd"
)

// probeHelperEnv makes the test binary, run inside a booted systemd as an
// unprivileged user, run one round and then the watchdog's probe (bounded
// by 2 s) over the real system bus, and print its result.
const probeHelperEnv = "WATCHDOG_PROBE_HELPER"

// probeMain: UNIT. Prints "ok" or "probe failed: ERR"; exit 0 either way
// when it got that far.
func probeMain(args []string) int {
	if os.Geteuid() == 0 || len(args) != 1 {
		fmt.Fprintln(os.Stderr, "probe helper: want UNIT, as an unprivileged user")
		return 2
	}
	cfg, err := config.Parse("helper.toml", []byte(fmt.Sprintf("project = \"p\"\ncoord_socket = \"/unused\"\n[[daemon]]\nrole = \"d\"\nunit = %q\n", args[0])))
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe helper:", err)
		return 2
	}
	dials := 0
	r := systemd.NewReaderDial(func(ctx context.Context) (*sddbus.Conn, error) {
		dials++
		return sddbus.NewSystemConnectionContext(ctx)
	})
	defer r.Close()
	wd := New(cfg, Deps{Units: r, States: statefile.Files{}, Clock: SystemClock{},
		Health: func(context.Context, string) error { return nil },
		Sender: nopSender{}, Log: slog.New(slog.DiscardHandler)}, Options{})
	// A round first, as the check loop runs one before any probe; with
	// the bus frozen it ends blind after 2 s, which is still a round
	// that finished: the probe's D-Bus read is what must fail then.
	rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
	if err := wd.round(rctx); err != nil {
		fmt.Fprintln(os.Stderr, "probe helper: round:", err)
	}
	rcancel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := wd.Probe(ctx); err != nil {
		fmt.Println("probe failed:", err)
		return 0
	}
	// A second round: on the connection the first one made, which
	// neither the round's nor the probe's context closed.
	if err := wd.round(context.Background()); err != nil {
		fmt.Println("second round failed:", err)
		return 0
	}
	fmt.Printf("ok, %d dial", dials)
	return 0
}

// TestProbeRealSystemd boots systemd with Debian's dbus and runs the
// probe as nobody over the real system bus: it passes (the control), and
// with dbus-daemon frozen by SIGSTOP it fails by timing out instead of
// hanging; thawed, it passes again.
func TestProbeRealSystemd(t *testing.T) {
	unitDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(unitDir, unitUp), []byte(failingUnits[unitUp]), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := users.ExportTestBinary(t)
	m := systemdns.Boot(t, systemdns.Options{Name: fmt.Sprintf("wdp-%d", os.Getpid()), Units: unitDir,
		Dbus: true, Binds: []string{filepath.Dir(bin)}})
	m.Systemctl(t, "start", unitUp)
	probe := func() string {
		t.Helper()
		out, stderr, code := m.ExecAs(t, "nobody", "env", probeHelperEnv+"=1", bin, unitUp)
		if code != 0 {
			t.Fatalf("probe helper: exit %d\n%s%s", code, out, stderr)
		}
		return strings.TrimSpace(out)
	}
	if got := probe(); got != "ok, 1 dial" {
		t.Fatalf("probe over a live bus: %q, want ok, and one connection for two rounds and the probe", got)
	}
	m.Systemctl(t, "kill", "--signal=SIGSTOP", "dbus.service")
	frozen := probe()
	m.Systemctl(t, "kill", "--signal=SIGCONT", "dbus.service")
	t.Logf("dbus-daemon frozen: %s", frozen)
	if !strings.HasPrefix(frozen, "probe failed: cannot read systemd over D-Bus") {
		t.Errorf("probe with dbus-daemon frozen: %q, want a failure", frozen)
	}
	if got := probe(); got != "ok, 1 dial" {
		t.Errorf("probe after dbus-daemon thawed: %q, want ok", got)
	}
}

// nopSender takes alerts and drops them: the probe helper sends none.
type nopSender struct{}

func (nopSender) Alert(context.Context, coordapi.AlertRequest) error { return nil }
