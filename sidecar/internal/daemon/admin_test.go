package daemon

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	clemadmin "github.com/clemhq/clem/shared/admin"
	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/testutil/notifysock"
	"github.com/clemhq/clem/sidecar/internal/backend"
)

// served is a sidecar run as the unit runs it (Serve, under lifecycle),
// with its admin socket and an injected SIGHUP.
type served struct {
	admin *http.Client
	hup   chan os.Signal
	stop  context.CancelFunc
	done  chan error
}

// serveWithAdmin writes oneServer's config with an [admin] socket, starts
// and serves it. The head keeps the [admin] table across rewrites.
func serveWithAdmin(t *testing.T, e *env) *served {
	t.Helper()
	// READY=1 says the admin socket is open.
	sd := notifysock.Listen(t, 0)
	sock := filepath.Join(e.dir, "admin.sock")
	e.limits = fmt.Sprintf("\n[admin]\nsocket = %q\n", sock)
	oneServer(e, "")
	d := e.start(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{hup: make(chan os.Signal), stop: cancel, done: make(chan error, 1)}
	go func() { s.done <- d.Serve(ctx, s.hup) }()
	t.Cleanup(func() { cancel(); <-s.done })
	s.admin = clemadmin.Client(sock)
	sd.UntilPrefix("READY=1")
	return s
}

func (s *served) do(t *testing.T, method, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://admin"+path, nil)
	resp, err := s.admin.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAdminSocket: /healthz runs the probe (200 while intact, 503 naming
// a stopped child), /metrics has lifecycle's and sidecar's series, POST
// /reload and SIGHUP put a good config in force and refuse a bad one
// (400 saying what and where) while the old one keeps serving.
func TestAdminSocket(t *testing.T) {
	e := newEnv(t)
	s := serveWithAdmin(t, e)
	started(t, e, "tools")

	if code, body := s.do(t, "GET", "/healthz"); code != 200 {
		t.Fatalf("healthz of an intact sidecar: %d %q", code, body)
	}
	_, metrics := s.do(t, "GET", "/metrics")
	for _, want := range []string{`clem_daemon_healthy{daemon="sidecar"}`, `clem_sidecar_backend_up{server="tools",agent=""} 1`, `clem_sidecar_tool_calls_total{server="tools"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q:\n%s", want, metrics)
		}
	}

	// A bad config is refused with what and where; the old one serves on.
	good, _ := os.ReadFile(e.cfgPath)
	os.WriteFile(e.cfgPath, append(good, []byte("\n[[server]]\nname = \"wide\"\nlisten = \"0.0.0.0:1\"\n")...), 0o600)
	if code, body := s.do(t, "POST", "/reload"); code != 400 || !strings.Contains(body, "not a loopback address") || !strings.Contains(body, e.cfgPath) {
		t.Errorf("reload of a bad config: %d %q, want 400 naming the file and the fault", code, body)
	}
	if text, _, err := callOnce(e.url("tools"), "echo", map[string]any{"text": "still"}); err != nil || text != "still" {
		t.Errorf("after a refused reload: %q, %v", text, err)
	}
	// A good one is put in force, by POST /reload ...
	oneServer(e, "\n[[server]]\nname = \"more\"\nlisten = \"127.0.0.1:0\"\ncommand = [{{BIN}}]\nagents = [\"lead\"]\n")
	if code, body := s.do(t, "POST", "/reload"); code != 200 {
		t.Fatalf("reload of a good config: %d %q", code, body)
	}
	if text, _, err := callOnce(e.url("more"), "echo", map[string]any{"text": "new"}); err != nil || text != "new" {
		t.Errorf("server added by POST /reload: %q, %v", text, err)
	}
	// ... and by SIGHUP. The signal channel is unbuffered, so the second
	// send returns only once the first reload is done.
	oneServer(e, "")
	s.hup <- syscall.SIGHUP
	s.hup <- syscall.SIGHUP
	if e.d.Addr("more") != "" {
		t.Error("SIGHUP did not reload: the removed server still has a port")
	}
	// A stopped child: /healthz says which and why.
	started(t, e, "tools")
	pid := int(childOf(t, e.d, "tools").PID.Load())
	stopChild(t, pid)
	code, body := s.do(t, "GET", "/healthz")
	syscall.Kill(pid, syscall.SIGCONT)
	if code != 503 || !strings.Contains(body, "server tools: child pid") {
		t.Errorf("healthz with a stopped child: %d %q, want 503 naming it", code, body)
	}
	if code, body := s.do(t, "GET", "/healthz"); code != 200 {
		t.Errorf("healthz after the child continued: %d %q", code, body)
	}

	// A port that stops serving ends Serve with its error: the unit fails.
	e.d.mu.lock()
	e.d.ports["tools"].ln.Close()
	e.d.mu.unlock()
	if err := <-s.done; err == nil || !strings.Contains(err.Error(), "server tools on") {
		t.Errorf("Serve after a port failed = %v", err)
	}
	s.done <- nil // for the cleanup
	// Serve has ended, so the second SIGHUP's reload (which may still
	// have been running after the send) is done: every record is written.
	recs := e.records("reload")
	var allowed, denied int
	for _, r := range recs {
		if r.Decision == audit.Allow {
			allowed++
		} else {
			denied++
		}
	}
	if allowed != 3 || denied != 1 {
		t.Errorf("reload records: %d allowed, %d denied; want 3 and 1", allowed, denied)
	}

	if _, err := os.Stat(filepath.Join(e.dir, "admin.sock")); !os.IsNotExist(err) {
		t.Errorf("admin socket after Serve ended: %v", err)
	}
}

func childOf(t *testing.T, d *Daemon, server string) *backend.Child {
	t.Helper()
	c, ok := d.Relay(server).Backend("").(*backend.Child)
	if !ok {
		t.Fatalf("server %s has no child", server)
	}
	return c
}
