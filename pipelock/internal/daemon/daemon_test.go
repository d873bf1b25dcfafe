package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReloadAndShutdown runs the daemon on a real config file: a bad new
// config is refused, over the admin socket and on SIGHUP alike, and the
// old policy keeps serving; a good one takes effect; /metrics counts both
// in pipelock's and the lifecycle's series; cancelling drains and removes
// the admin socket.
func TestReloadAndShutdown(t *testing.T) {
	dir := t.TempDir()
	proxyAddr, sock := freePort(t), filepath.Join(dir, "admin.sock")
	cfgPath, auditPath := filepath.Join(dir, "pipelock.toml"), filepath.Join(dir, "audit.log")
	write := func(domains string) { writeConfig(t, cfgPath, proxyAddr, sock, auditPath, domains) }
	write(`"one.example.com"`)
	d := startDaemon(t, cfgPath, proxyAddr, sock)
	if code, body := d.get("/healthz"); code != 200 {
		t.Fatalf("healthz = %d %q, want 200", code, body)
	}

	// Allowed hosts fail to dial here (502); denied ones are refused (403).
	if got, _ := d.connect("two.example.com"); got != 403 {
		t.Fatalf("two.example.com before reload = %d, want 403", got)
	}
	write(`"*.com"`) // invalid: wildcard under a public suffix
	if code, body := d.post("/reload"); code != 400 || !strings.Contains(body, "public suffix") || !strings.Contains(body, cfgPath) {
		t.Errorf("bad reload = %d %q, want 400 naming the file and the problem", code, body)
	}
	if got, _ := d.connect("one.example.com"); got == 403 {
		t.Error("after a refused reload the old config no longer serves")
	}
	// The same bad file on SIGHUP: refused, the old config serves on.
	d.sighup()
	if got, _ := d.connect("one.example.com"); got == 403 {
		t.Error("after a refused SIGHUP reload the old config no longer serves")
	}
	write(`"two.example.com"`)
	if code, body := d.post("/reload"); code != 200 {
		t.Fatalf("good reload = %d %q", code, body)
	}
	if got, _ := d.connect("two.example.com"); got == 403 {
		t.Error("good reload did not take effect")
	}
	if got, _ := d.connect("one.example.com"); got != 403 {
		t.Errorf("one.example.com after reload = %d, want 403", got)
	}
	write(`"one.example.com"`)
	d.sighup()
	if got, _ := d.connect("one.example.com"); got == 403 {
		t.Errorf("good SIGHUP reload did not take effect; journal:\n%s", d.journal)
	}
	_, m := d.get("/metrics")
	for _, want := range []string{
		"pipelock_reloads_total 2", "pipelock_reload_errors_total 2", `pipelock_connections_total{decision="deny"} 6`,
		`clem_daemon_reloads_total{daemon="pipelock"} 2`, `clem_daemon_reload_errors_total{daemon="pipelock"} 2`,
		`clem_daemon_healthy{daemon="pipelock"} 1`, "pipelock_audit_refused_total 0",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q:\n%s", want, m)
		}
	}
	// The proxy port does not serve the admin API.
	if got, _ := d.connect("admin"); got != 400 && got != 403 {
		t.Errorf("admin via proxy port = %d", got)
	}
	if err := d.stop(); err != nil {
		t.Errorf("Run after cancel = %v", err)
	}
	if _, err := os.Stat(sock); err == nil {
		t.Error("admin socket left behind")
	}
	log, _ := os.ReadFile(auditPath)
	if n := strings.Count(string(log), "\n"); n < 6 {
		t.Errorf("audit log has %d lines:\n%s", n, log)
	}
}

// TestListenerFailureEndsRun: a proxy listener that dies ends Run with an
// error naming it, so the unit fails and systemd restarts it; before it
// does, /healthz fails on the same probe that gates WATCHDOG.
func TestListenerFailureEndsRun(t *testing.T) {
	dir := t.TempDir()
	proxyAddr, sock := freePort(t), filepath.Join(dir, "admin.sock")
	cfgPath := filepath.Join(dir, "pipelock.toml")
	writeConfig(t, cfgPath, proxyAddr, sock, filepath.Join(dir, "audit.log"), `"one.example.com"`)
	d := startDaemon(t, cfgPath, proxyAddr, sock)
	if code, body := d.get("/healthz"); code != 200 {
		t.Fatalf("healthz (control) = %d %q, want 200", code, body)
	}
	d.lns[0].Close()
	err := <-d.done
	d.done <- err
	if err == nil || !strings.Contains(err.Error(), "listen.proxy") || !errors.Is(err, os.ErrClosed) && !strings.Contains(err.Error(), "closed") {
		t.Errorf("Run after its listener died = %v, want an error naming listen.proxy", err)
	}
}
