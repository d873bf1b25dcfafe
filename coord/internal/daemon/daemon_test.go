package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/clemhq/clem/coord/internal/core"
	"github.com/clemhq/clem/shared/coordapi"
	"github.com/clemhq/clem/shared/peer"
	"github.com/clemhq/clem/shared/testutil/netns"
	"github.com/clemhq/clem/shared/testutil/notifysock"
	"github.com/clemhq/clem/shared/testutil/tinydisk"
)

// coordTOML is a coord.toml for the tests: agents "a" (4242) and, when
// withB, "b" (4243); extra is appended (more keys, or a mistake).
func coordTOML(dir, stateDir string, withB bool, extra string) string {
	s := fmt.Sprintf(`project = "t"
[mcp]
listen = "127.0.0.1:3130"
[socket]
path = "%[1]s/coord.sock"
[admin]
socket = "%[1]s/admin/admin.sock"
[state]
dir = "%[2]s"
[audit]
path = "%[1]s/audit.log"
[[agent]]
key = "a"
uid = 4242
`, dir, stateDir)
	if withB {
		s += "[[agent]]\nkey = \"b\"\nuid = 4243\n"
	}
	return s + extra
}

// running is a coord served in a network namespace of its own.
type running struct {
	t       *testing.T
	dir     string
	cfgPath string
	d       *Daemon
	sd      *notifysock.Socket
	hup     chan os.Signal
	admin   *http.Client
	done    chan error
	stop    func() error
}

// startCoord writes coord.toml (state in stateDir, "" = dir/state) and
// serves it until the test ends. enter, when set, wraps Start (to run it
// inside a mount namespace); it gets the netns path to join.
func startCoord(t *testing.T, stateDir string, enter func(ns string, start func())) *running {
	t.Helper()
	dir := t.TempDir()
	if stateDir == "" {
		stateDir = filepath.Join(dir, "state")
	}
	r := &running{t: t, dir: dir, cfgPath: filepath.Join(dir, "coord.toml"), hup: make(chan os.Signal, 1), done: make(chan error, 1)}
	r.write(coordTOML(dir, stateDir, false, ""))
	r.sd = notifysock.Listen(t, 0)
	ns := netns.NewNamed(t)
	var res *peer.Resolver
	var err error
	netns.In(t, ns, func() { res, err = peer.NewResolver() })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Close() })
	who := func(c net.Conn) (uint32, error) { uid, _, err := res.TCPPeerUID(c); return uid, err }
	opts := Options{PeerUID: who, Signals: r.hup, InNetns: func(f func()) { netns.In(t, ns, f) }}
	log := slog.New(slog.DiscardHandler)
	start := func() { r.d, err = Start(r.cfgPath, log, opts) }
	if enter != nil {
		enter(ns, start)
	} else {
		netns.In(t, ns, start)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { r.done <- r.d.Serve(ctx) }()
	r.stop = func() error { cancel(); return <-r.done }
	t.Cleanup(func() {
		if r.stop != nil {
			r.stop()
		}
	})
	r.sd.UntilPrefix("READY=1")
	adminPath := filepath.Join(dir, "admin", "admin.sock")
	r.admin = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", adminPath)
		},
		DisableKeepAlives: true,
	}}
	return r
}

func (r *running) write(toml string) {
	r.t.Helper()
	if err := os.WriteFile(r.cfgPath, []byte(toml), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

// call does method path on the admin socket and returns the status and body.
func (r *running) call(method, path string) (int, string) {
	r.t.Helper()
	req, _ := http.NewRequest(method, "http://admin"+path, nil)
	resp, err := r.admin.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// reload does POST /reload and takes the RELOADING=1 and READY=1 it
// sends to systemd, so a later wait for them sees only newer ones.
func (r *running) reload() (int, string) {
	r.t.Helper()
	code, body := r.call("POST", "/reload")
	r.sd.UntilPrefix("RELOADING=1")
	r.sd.UntilPrefix("READY=1")
	return code, body
}

func (r *running) auditLog() string {
	b, _ := os.ReadFile(filepath.Join(r.dir, "audit.log"))
	return string(b)
}

// TestAdminSocket: /healthz runs the real probe (200 ok), /metrics has
// lifecycle's series and coord's own, and a reload through POST /reload
// or SIGHUP applies a valid config live (an agent added, then removed;
// a limit changed) while an invalid one, or one changing what needs a
// restart, is refused with what and where and the old config keeps
// serving. Every reload is audited.
func TestAdminSocket(t *testing.T) {
	r := startCoord(t, "", nil)
	if code, body := r.call("GET", "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("/healthz = %d %q, want 200 ok", code, body)
	}
	_, metrics := r.call("GET", "/metrics")
	for _, want := range []string{`clem_daemon_healthy{daemon="coord"} 1`, "clem_coord_agents 1", "clem_coord_reports_queued 0", `clem_coord_connections{listener="mcp"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, metrics)
		}
	}
	if got := r.d.c.Identify(4243).Role; got != core.Unknown {
		t.Fatalf("uid 4243 is %v before it is configured", got)
	}

	// POST /reload applies a valid config live.
	r.write(coordTOML(r.dir, filepath.Join(r.dir, "state"), true, "[limits]\nwrites_per_hour = 7\n"))
	if code, body := r.reload(); code != http.StatusOK {
		t.Fatalf("POST /reload of a valid config = %d %q", code, body)
	}
	if got := r.d.c.Identify(4243).Agent; got != "b" {
		t.Fatalf("after the reload uid 4243 is %q, want agent b", got)
	}
	if got := r.d.c.Config().Limits.WritesPerHour; got != 7 {
		t.Fatalf("after the reload limits.writes_per_hour = %d, want 7", got)
	}
	if _, m := r.call("GET", "/metrics"); !strings.Contains(m, "clem_coord_agents 2") {
		t.Errorf("/metrics after adding b lacks clem_coord_agents 2")
	}

	// Refused: invalid, or a key that needs a restart. The old config serves.
	refused := []struct {
		name, toml, want string
	}{
		{"agent as root", coordTOML(r.dir, filepath.Join(r.dir, "state"), true, "[[agent]]\nkey = \"c\"\nuid = 0\n"), "coord.toml: agent[2] (c): uid 0 is root"},
		{"syntax error", coordTOML(r.dir, filepath.Join(r.dir, "state"), true, "[limits\n"), "coord.toml"},
		{"unknown key", coordTOML(r.dir, filepath.Join(r.dir, "state"), true, "[lease]\nttl_typo = \"5m\"\n"), "ttl_typo"},
		{"mcp.listen changed", strings.Replace(coordTOML(r.dir, filepath.Join(r.dir, "state"), true, ""), "3130", "3131", 1), "mcp.listen changed"},
		{"state.dir changed", coordTOML(r.dir, filepath.Join(r.dir, "elsewhere"), true, ""), "state.dir changed"},
		{"backend changed", "backend = \"github\"\n" + coordTOML(r.dir, filepath.Join(r.dir, "state"), true, "[github]\nrepo = \"o/r\"\n"), "backend changed"},
	}
	for _, tt := range refused {
		r.write(tt.toml)
		code, body := r.reload()
		if code != http.StatusBadRequest || !strings.Contains(body, tt.want) {
			t.Errorf("%s: POST /reload = %d %q, want 400 saying %q", tt.name, code, body, tt.want)
		}
		if got := r.d.c.Identify(4243).Agent; got != "b" {
			t.Fatalf("%s: after a refused reload uid 4243 is %q, want agent b still", tt.name, got)
		}
	}
	if code, _ := r.call("GET", "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz after refused reloads = %d", code)
	}

	// SIGHUP: a refused one leaves b; a valid one removes it.
	r.write("project = \"t\"\n[mcp]\nlisten = 3130\n")
	r.hup <- syscall.SIGHUP
	r.sd.UntilPrefix("RELOADING=1")
	r.sd.UntilPrefix("READY=1")
	if got := r.d.c.Identify(4243).Agent; got != "b" {
		t.Fatalf("after a refused SIGHUP uid 4243 is %q, want agent b still", got)
	}
	r.write(coordTOML(r.dir, filepath.Join(r.dir, "state"), false, ""))
	r.hup <- syscall.SIGHUP
	r.sd.UntilPrefix("RELOADING=1")
	r.sd.UntilPrefix("READY=1")
	if got := r.d.c.Identify(4243).Role; got != core.Unknown {
		t.Fatalf("after SIGHUP removed b, uid 4243 is %v, want unknown", got)
	}

	log := r.auditLog()
	if n := strings.Count(log, `"event":"reload","decision":"allow"`); n != 2 {
		t.Errorf("%d allowed reloads audited, want 2", n)
	}
	if n := strings.Count(log, `"event":"reload","decision":"deny"`); n != len(refused)+1 {
		t.Errorf("%d refused reloads audited, want %d", n, len(refused)+1)
	}
	if !strings.Contains(log, `"event":"start"`) {
		t.Error("no start record in the audit log")
	}
}

// TestHealthzFailsWhenBroken: /healthz answers 503 with the reason when
// what the probe checks is broken: the board closed, coord.db closed.
// The control is the 200 each daemon gives before it is broken.
func TestHealthzFailsWhenBroken(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(d *Daemon)
		want   string
	}{
		{"board closed", func(d *Daemon) { d.be.Close() }, "local board: read: database not open"},
		{"coord.db closed", func(d *Daemon) { d.c.Close() }, "coord.db: read: database not open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := startCoord(t, "", nil)
			if code, body := r.call("GET", "/healthz"); code != http.StatusOK {
				t.Fatalf("/healthz before breaking it = %d %q", code, body)
			}
			tt.break_(r.d)
			code, body := r.call("GET", "/healthz")
			if code != http.StatusServiceUnavailable || !strings.HasPrefix(body, tt.want) {
				t.Fatalf("/healthz = %d %q, want 503 starting %q", code, body, tt.want)
			}
		})
	}
}

// TestMCPListenerGone: when the MCP listener dies the daemon stops with
// the listener's error (the unit fails and systemd restarts it), and the
// probe already fails.
func TestMCPListenerGone(t *testing.T) {
	r := startCoord(t, "", nil)
	if err := r.d.Probe(t.Context()); err != nil {
		t.Fatalf("probe before the listener closed: %v", err)
	}
	r.d.mcp.Listener.Close()
	if err := r.d.Probe(t.Context()); err == nil || !strings.Contains(err.Error(), "mcp endpoint") {
		t.Errorf("probe with the MCP listener closed = %v, want an mcp endpoint error", err)
	}
	err := <-r.done
	r.stop = nil
	if err == nil || !strings.Contains(err.Error(), "mcp endpoint") {
		t.Fatalf("Serve after the MCP listener closed = %v, want the mcp endpoint's error", err)
	}
}

// TestBoardDiskFull: coord's state directory on a tiny tmpfs (its own
// mount namespace). Filled: adding tasks fails, soon, with an error that
// says the board's disk is full, and the errno; everything added before
// still reads back; /healthz answers 503 degraded saying so. Space back:
// /healthz is 200 again by itself and tasks can be added.
func TestBoardDiskFull(t *testing.T) {
	stateDir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	var disk *tinydisk.Disk
	r := startCoord(t, stateDir, func(ns string, start func()) {
		var err error
		disk, err = tinydisk.Mount(t, stateDir, 2<<20, func() error {
			f, err := os.Open(ns)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
				return fmt.Errorf("setns %s: %w", ns, err)
			}
			start()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	cl := coordapi.NewClient(filepath.Join(r.dir, "coord.sock")) // as root: an operator
	ctx := t.Context()
	add := func(i int) error {
		_, err := cl.AddTask(ctx, coordapi.AddTaskRequest{Title: fmt.Sprintf("task %d", i), Body: strings.Repeat("x", 2000)})
		return err
	}
	n := 0
	for ; n < 5; n++ {
		if err := add(n); err != nil {
			t.Fatalf("add task %d with space left: %v", n, err)
		}
	}
	if err := disk.Fill(); err != nil {
		t.Fatal(err)
	}
	var werr error
	for limit := n + 2000; n < limit; n++ {
		if werr = add(n); werr != nil {
			break
		}
	}
	stored := n
	if werr == nil || !strings.Contains(werr.Error(), "board: disk full") || !strings.Contains(werr.Error(), "no space left on device") {
		t.Fatalf("adding a task on a full disk: %v, want board: disk full (no space left on device)", werr)
	}
	tasks, err := cl.Tasks(ctx, "")
	if err != nil {
		t.Fatalf("listing tasks on a full disk: %v", err)
	}
	if len(tasks) != stored {
		t.Fatalf("on a full disk %d tasks read back, want the %d stored", len(tasks), stored)
	}
	code, body := r.call("GET", "/healthz")
	if code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "degraded: board: disk full") {
		t.Fatalf("/healthz on a full disk = %d %q, want 503 degraded: board: disk full", code, body)
	}
	if err := disk.Free(); err != nil {
		t.Fatal(err)
	}
	if code, body := r.call("GET", "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz with space back = %d %q, want 200", code, body)
	}
	if err := add(n); err != nil {
		t.Fatalf("add a task with space back: %v", err)
	}
	if tasks, err := cl.Tasks(ctx, ""); err != nil || len(tasks) != stored+1 {
		t.Fatalf("after recovery %d tasks (err %v), want %d", len(tasks), err, stored+1)
	}
}
