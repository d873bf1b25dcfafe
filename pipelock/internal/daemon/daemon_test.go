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
	"testing"
	"time"
)

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func pin(host, addr string) string {
	return fmt.Sprintf("[[resolve]]\nhost = %q\nport = 443\naddress = %q\n", host, addr)
}

func adminClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
}

// TestReloadAndShutdown runs the daemon on a real config file: a bad new
// config is rejected over the admin socket and the old policy keeps serving,
// a good one takes effect, /metrics counts it, and cancelling drains.
func TestReloadAndShutdown(t *testing.T) {
	dir := t.TempDir()
	proxyAddr := freePort(t)
	sock := filepath.Join(dir, "admin.sock")
	cfgPath := filepath.Join(dir, "pipelock.toml")
	auditPath := filepath.Join(dir, "audit.log")
	closed := freePort(t)
	write := func(domains string) {
		// Resolve overrides to a closed port: allowed hosts get 502 and no
		// DNS query ever leaves the host.
		src := fmt.Sprintf("[listen]\nproxy = %q\nadmin = %q\n[audit]\npath = %q\n%s%s[[client]]\nname = \"me\"\nuids = [%d]\ndomains = [%s]\n",
			proxyAddr, sock, auditPath, pin("one.example.com", closed), pin("two.example.com", closed), os.Getuid(), domains)
		if err := os.WriteFile(cfgPath, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`"one.example.com"`)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfgPath, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	t.Cleanup(func() { cancel(); <-done })
	admin := adminClient(sock)
	var resp *http.Response
	var err error
	for i := 0; i < 200; i++ {
		if resp, err = admin.Get("http://admin/healthz"); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v", err)
	}
	resp.Body.Close()

	connect := func(host string) int {
		c, err := net.Dial("tcp", proxyAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "CONNECT %s:443 HTTP/1.1\r\n\r\n", host)
		buf := make([]byte, 12)
		io.ReadFull(c, buf)
		var code int
		fmt.Sscanf(string(buf[9:12]), "%d", &code)
		return code
	}
	// Allowed hosts fail to resolve here (502); denied ones are refused (403).
	// Both are refusals in the metrics.
	if got := connect("two.example.com"); got != 403 {
		t.Fatalf("two.example.com before reload = %d, want 403", got)
	}
	write(`"*.com"`) // invalid: wildcard under a public suffix
	resp, err = admin.Post("http://admin/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "public suffix") {
		t.Errorf("bad reload = %d %q, want 400 naming the problem", resp.StatusCode, b)
	}
	if got := connect("one.example.com"); got == 403 {
		t.Error("after a rejected reload the old config no longer serves")
	}
	write(`"two.example.com"`)
	resp, err = admin.Post("http://admin/reload", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("good reload: %v %v", resp.Status, err)
	}
	resp.Body.Close()
	if got := connect("two.example.com"); got == 403 {
		t.Error("good reload did not take effect")
	}
	if got := connect("one.example.com"); got != 403 {
		t.Errorf("one.example.com after reload = %d, want 403", got)
	}
	resp, err = admin.Get("http://admin/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"pipelock_reloads_total 1", "pipelock_reload_errors_total 1", `pipelock_connections_total{decision="deny"} 4`} {
		if !strings.Contains(string(m), want) {
			t.Errorf("metrics lack %q:\n%s", want, m)
		}
	}
	// The proxy port does not serve the admin API.
	if got := connect("admin"); got != 400 && got != 403 {
		t.Errorf("admin via proxy port = %d", got)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not stop")
	}
	if _, err := os.Stat(sock); err == nil {
		t.Error("admin socket left behind")
	}
	log, _ := os.ReadFile(auditPath)
	if strings.Count(string(log), "\n") < 4 {
		t.Errorf("audit log has %d lines:\n%s", strings.Count(string(log), "\n"), log)
	}
	done <- nil
}

// TestProbeFails: the health probe passes while the proxy port takes
// connections and fails once nothing listens there.
func TestProbeFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := probe(addr); err != nil {
		t.Fatalf("probe(%s) with a listener = %v, want nil", addr, err)
	}
	ln.Close()
	if err := probe(addr); err == nil {
		t.Fatalf("probe(%s) with nothing listening = nil, want an error", addr)
	}
}
