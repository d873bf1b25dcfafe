package daemon

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/clemhq/clem/agent-vault/internal/ca"
	"github.com/clemhq/clem/shared/testutil/notifysock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testVault is one agent-vault run by serve, with its files.
type testVault struct {
	t                                   *testing.T
	dir, cfg, sock, admin, audit, caPEM string
	sd                                  *notifysock.Socket
	hup                                 chan os.Signal
	v                                   *vault
	http                                *http.Client
}

// write writes the config with hosts (TOML list items) for its binding.
func (tv *testVault) write(hosts string) { tv.t.Helper(); tv.writeWith(hosts, "") }

// writeWith is write with more TOML (whole tables) after the binding.
func (tv *testVault) writeWith(hosts, more string) {
	tv.t.Helper()
	src := fmt.Sprintf(`[listen]
socket = %q
admin = %q
[ca]
dir = %q
[secrets]
dir = %q
[audit]
path = %q
[[binding]]
name = "b"
secret = "k"
hosts = [%s]
[[binding.placeholder]]
agent = "lead"
value = "__clem_lead_b_0011223344556677__"
%s`, tv.sock, tv.admin, filepath.Join(tv.dir, "ca"), tv.dir, tv.audit, hosts, more)
	if err := os.WriteFile(tv.cfg, []byte(src), 0o600); err != nil {
		tv.t.Fatal(err)
	}
}

// startVault runs agent-vault until the test ends and returns once it
// told systemd READY=1. Its systemd has WatchdogSec=8s: probes run every
// 4s, each bounded by 2s, so a wedged probe fails /healthz in 2s.
func startVault(t *testing.T) *testVault { t.Helper(); return startVaultWith(t, "", nil) }

// startVaultWith is startVault with more TOML in the first config, after
// setup has written what it needs into the vault's directory.
func startVaultWith(t *testing.T, more string, setup func(dir string) string) *testVault {
	t.Helper()
	dir := t.TempDir()
	tv := &testVault{t: t, dir: dir, cfg: filepath.Join(dir, "v.toml"), sock: filepath.Join(dir, "b.sock"),
		admin: filepath.Join(dir, "admin", "admin.sock"), audit: filepath.Join(dir, "audit.log"),
		caPEM: filepath.Join(dir, "ca", "ca.pem"), sd: notifysock.Listen(t, 8*time.Second), hup: make(chan os.Signal, 1)}
	if err := os.WriteFile(filepath.Join(dir, "k"), []byte("sk-secret-value"), 0o600); err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		more = setup(dir)
	}
	tv.writeWith(`"api.example.com"`, more)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := make(chan *vault, 1)
	go func() {
		done <- serve(ctx, tv.cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), tv.hup, func(v *vault) { started <- v })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve returned %v after its context ended, want nil", err)
		}
	})
	select {
	case tv.v = <-started:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	tv.sd.UntilPrefix("READY=1")
	tv.http = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", tv.admin)
		},
		DisableKeepAlives: true,
	}}
	return tv
}

// do sends method path to the admin socket.
func (tv *testVault) do(method, path string) (int, string) {
	tv.t.Helper()
	req, _ := http.NewRequest(method, "http://admin"+path, nil)
	resp, err := tv.http.Do(req)
	if err != nil {
		tv.t.Fatalf("%s %s on the admin socket: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// reload is POST /reload; it returns once systemd was told the reload
// ended (RELOADING=1, then READY=1), so the next wait sees the next one.
func (tv *testVault) reload() (int, string) {
	tv.t.Helper()
	code, body := tv.do("POST", "/reload")
	tv.sd.UntilPrefix("RELOADING=1")
	tv.sd.UntilPrefix("READY=1")
	return code, body
}

// sighup delivers SIGHUP and waits until the reload it started ended.
func (tv *testVault) sighup() {
	tv.t.Helper()
	tv.hup <- os.Interrupt
	tv.sd.UntilPrefix("RELOADING=1")
	tv.sd.UntilPrefix("READY=1")
}

func (tv *testVault) healthz() (int, string) { return tv.do("GET", "/healthz") }

func (tv *testVault) auditLog() string {
	b, _ := os.ReadFile(tv.audit)
	return string(b)
}

func (tv *testVault) readCA() string {
	b, err := os.ReadFile(tv.caPEM)
	if err != nil {
		tv.t.Fatal(err)
	}
	return string(b)
}

// TestReloadThroughAdminAndSignal: POST /reload and SIGHUP both re-read
// the config. A broken one is refused (400 saying what and where, an
// audited deny) while the old one keeps serving: /healthz still completes
// its handshake and the CA is unchanged. A good one with a new host
// rotates the name-constrained CA, and the probe passes against the new
// ca.pem (so the new CA serves).
func TestReloadThroughAdminAndSignal(t *testing.T) {
	tv := startVault(t)
	if code, body := tv.healthz(); code != 200 {
		t.Fatalf("/healthz at start = %d %q, want 200", code, body)
	}
	caBefore := tv.readCA()

	tv.write(`"*.com"`) // a wildcard under a public suffix: refused
	code, body := tv.reload()
	if code != 400 || !strings.Contains(body, tv.cfg) || !strings.Contains(body, "binding[0] (b).hosts") {
		t.Errorf("POST /reload of a bad config = %d %q, want 400 naming %s and binding[0] (b).hosts", code, body, tv.cfg)
	}
	if !strings.Contains(tv.auditLog(), `"event":"reload","decision":"deny"`) {
		t.Errorf("refused reload not audited:\n%s", tv.auditLog())
	}
	if code, body := tv.healthz(); code != 200 {
		t.Errorf("/healthz after a refused reload = %d %q, want 200 (the old config keeps serving)", code, body)
	}
	if tv.readCA() != caBefore {
		t.Error("a refused reload replaced the CA")
	}

	// A new host (which would rotate the CA) with an upstream CA file that
	// does not exist: refused before the CA on disk changes, so the old CA
	// keeps matching ca.pem and the probe keeps passing.
	tv.writeWith(`"api.example.com", "new.example.com"`, fmt.Sprintf("[upstream]\nca_file = %q\n", filepath.Join(tv.dir, "missing.pem")))
	if code, body := tv.reload(); code != 400 || !strings.Contains(body, "upstream.ca_file") {
		t.Errorf("POST /reload with a missing upstream.ca_file = %d %q, want 400 naming it", code, body)
	}
	if tv.readCA() != caBefore {
		t.Error("a refused reload rotated the CA on disk")
	}
	if code, body := tv.healthz(); code != 200 {
		t.Errorf("/healthz after a refused reload with a new host = %d %q, want 200", code, body)
	}

	// SIGHUP: the same refusal, seen when the reload's READY=1 arrives.
	tv.sighup()
	if n := strings.Count(tv.auditLog(), `"event":"reload","decision":"deny"`); n != 3 {
		t.Errorf("%d refused reloads audited after two POST /reload and a SIGHUP, want 3", n)
	}
	if code, body := tv.healthz(); code != 200 {
		t.Errorf("/healthz after a refused SIGHUP reload = %d %q, want 200", code, body)
	}

	tv.write(`"api.example.com", "uploads.example.com"`)
	if code, body := tv.reload(); code != 200 {
		t.Fatalf("POST /reload of a good config = %d %q, want 200", code, body)
	}
	log := tv.auditLog()
	if !strings.Contains(log, `"event":"ca_rotation"`) || !strings.Contains(log, `"event":"reload","decision":"allow"`) {
		t.Errorf("good reload: no ca_rotation and allowed reload in the audit log:\n%s", log)
	}
	if tv.readCA() == caBefore {
		t.Error("a new brokered host did not rotate the name-constrained CA")
	}
	if code, body := tv.healthz(); code != 200 {
		t.Errorf("/healthz after a rotation = %d %q, want 200 (the new CA serves)", code, body)
	}

	tv.write(`"api.example.com"`)
	tv.sighup()
	if n := strings.Count(tv.auditLog(), `"event":"reload","decision":"allow"`); n != 2 {
		t.Errorf("%d allowed reloads audited after a good SIGHUP, want 2", n)
	}
	if strings.Contains(tv.auditLog(), "sk-secret-value") {
		t.Error("the audit log contains the secret")
	}
}

// TestHealthzFailsWhenBroken: /healthz (the probe WATCHDOG pings follow)
// passes on an intact broker (the control, in every row) and fails with
// the reason when what it checks is broken.
func TestHealthzFailsWhenBroken(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(t *testing.T, tv *testVault)
		want   string
	}{
		{"socket removed", func(t *testing.T, tv *testVault) {
			if err := os.Remove(tv.sock); err != nil {
				t.Fatal(err)
			}
		}, "no such file"},
		{"socket replaced by a plain file", func(t *testing.T, tv *testVault) {
			os.Remove(tv.sock)
			if err := os.WriteFile(tv.sock, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "connection refused"},
		{"socket replaced by another TLS server", func(t *testing.T, tv *testVault) {
			os.Remove(tv.sock)
			impostor(t, tv.sock)
		}, "does not verify against the CA agents trust"},
		{"ca.pem corrupted", func(t *testing.T, tv *testVault) {
			if err := os.WriteFile(tv.caPEM, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "CA certificate"},
		{"ca.pem removed", func(t *testing.T, tv *testVault) {
			if err := os.Remove(tv.caPEM); err != nil {
				t.Fatal(err)
			}
		}, "the CA agents trust"},
		{"ca.pem of another CA", func(t *testing.T, tv *testVault) {
			other := filepath.Join(tv.dir, "other-ca")
			pem, err := CA(otherConfig(t, tv, other))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(tv.caPEM, pem, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "does not verify against the CA agents trust"},
		{"wedged: a reload holds the CA forever", func(t *testing.T, tv *testVault) {
			tv.v.caSwap <- struct{}{}
			t.Cleanup(func() { <-tv.v.caSwap })
		}, timedOut},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tv := startVault(t)
			if code, body := tv.healthz(); code != 200 || body != "ok\n" {
				t.Fatalf("/healthz of an intact broker = %d %q, want 200 ok", code, body)
			}
			tt.break_(t, tv)
			code, body := tv.healthz()
			if code != 503 || !matches(body, tt.want) {
				t.Errorf("/healthz with %s = %d %q, want 503 containing %q", tt.name, code, body, tt.want)
			}
		})
	}
}

// timedOut is how /healthz says the probe did not finish in time: the
// prober's own timer and the request's deadline are the same length, so
// either may say it first.
const timedOut = "did not answer within|context deadline exceeded"

// matches says whether body contains one of the |-separated wants.
func matches(body, wants string) bool {
	for _, w := range strings.Split(wants, "|") {
		if strings.Contains(body, w) {
			return true
		}
	}
	return false
}

// otherConfig is a copy of tv's config with its CA in dir.
func otherConfig(t *testing.T, tv *testVault, dir string) string {
	b, err := os.ReadFile(tv.cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(tv.dir, "other.toml")
	src := strings.Replace(string(b), filepath.Join(tv.dir, "ca"), dir, 1)
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestMetrics: /metrics has the lifecycle's series and the broker's.
func TestMetrics(t *testing.T) {
	tv := startVault(t)
	if code, _ := tv.healthz(); code != 200 {
		t.Fatal("/healthz failed")
	}
	code, body := tv.do("GET", "/metrics")
	for _, want := range []string{`clem_daemon_healthy{daemon="agent-vault"} 1`, "agent_vault_tunnels_open 0", "agent_vault_health_probes_answered_total "} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("/metrics = %d, lacks %q:\n%s", code, want, body)
		}
	}
	if strings.Contains(body, "agent_vault_health_probes_answered_total 0\n") {
		t.Errorf("/metrics counts no probe answered after /healthz passed:\n%s", body)
	}
}

// impostor binds path after agent-vault's socket went away and answers as
// the broker would, with a leaf for the right host from another CA (one
// with agent-vault's name constraints, but not the one agents trust).
func impostor(t *testing.T, path string) {
	t.Helper()
	other, err := ca.New([]string{"api.example.com"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 Connection Established\r\n\r\n")
				tls.Server(c, &tls.Config{GetCertificate: other.GetCertificate}).Handshake()
			}()
		}
	}()
}
