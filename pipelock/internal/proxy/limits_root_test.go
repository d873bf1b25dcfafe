package proxy

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/clemhq/clem/pipelock/internal/config"
	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/peer"
	"github.com/clemhq/clem/shared/testutil/netns"
	"github.com/clemhq/clem/shared/testutil/users"
)

// TestFloodingAgentCannotStarveAnother: in a fresh network namespace, agent
// A (a real user, its own process) fills its per-uid cap with idle tunnels
// and then floods new connections; every request of agent B (root here, a
// different uid) still succeeds, and A's refusals are audited (once per
// flood, then summarised) and counted in /metrics. The control turns the
// per-uid cap off and leaves only the total (standing in for the fd limit
// the 24k idle connections hit): A's hold then refuses B.
func TestFloodingAgentCannotStarveAnother(t *testing.T) {
	const holds = 8
	agentA := users.Add(t, "plkf")
	exe := users.ExportTestBinary(t)
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	up.StartTLS()
	defer up.Close()

	for _, tt := range []struct {
		name        string
		perUID      int // 0: no per-uid cap
		total       int
		wantBServed bool
	}{
		{"per-uid cap holds A alone", holds, 64, true},
		{"control: total cap only", 0, holds, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			netns.Run(t, func() {
				res, err := peer.NewResolver()
				if err != nil {
					t.Fatal(err)
				}
				defer res.Close()
				src := fmt.Sprintf(`[listen]
proxy = "127.0.0.1:1"
[upstream]
hello_timeout = "5m"
%s
[[client]]
name = "a"
uids = [%d]
domains = ["example.com"]

[[client]]
name = "b"
uids = [0]
domains = ["example.com"]
`, override("example.com", 443, up), agentA.UID)
				cfg, err := config.Parse("limits.toml", []byte(src))
				if err != nil {
					t.Fatal(err)
				}
				cfg.ConnsPerUID, cfg.ConnsTotal = tt.perUID, tt.total
				p := serveTest(t, cfg, Options{Identify: identifyWith(res)}, false)

				cmd := exec.Command(exe)
				cmd.Dir = "/"
				cmd.Env = []string{floodEnv + "=" + p.addr + ",example.com:443," + fmt.Sprint(holds)}
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: agentA.UID, Gid: agentA.GID}}
				stdin, _ := cmd.StdinPipe()
				stdout, _ := cmd.StdoutPipe()
				cmd.Stderr = os.Stderr
				if err := cmd.Start(); err != nil {
					t.Fatalf("start the flooding agent as %s: %v", agentA.Name, err)
				}
				out := bufio.NewReader(stdout)
				line, err := out.ReadString('\n')
				if err != nil || line != "ready\n" {
					stdin.Close()
					cmd.Wait()
					t.Fatalf("flooding agent: %q, %v; want ready (its cap full, its flood refused)", line, err)
				}

				// B, while A floods: 20 requests, each on a new tunnel, dialed
				// from this thread so the sockets are in the namespace.
				pool := x509.NewCertPool()
				pool.AddCert(up.Certificate())
				served, firstErr := 0, ""
				for range 20 {
					err := getThrough(p.addr, "example.com", pool)
					if err == nil {
						served++
					} else if firstErr == "" {
						firstErr = err.Error()
					}
				}
				stdin.Close()
				summary, _ := out.ReadString('\n')
				if err := cmd.Wait(); err != nil {
					t.Errorf("flooding agent: %v", err)
				}
				t.Logf("agent A: %s; agent B: %d of 20 served", strings.TrimSpace(summary), served)

				if tt.wantBServed {
					if served != 20 {
						t.Fatalf("agent B: %d of 20 requests served during A's flood, want all; first error: %s", served, firstErr)
					}
					r := p.recordWhere("", func(r audit.Record) bool { return r.Rule == RuleConnsPerUID })
					if r.Decision != audit.Deny || r.Client != "a" || r.UID == nil || *r.UID != agentA.UID {
						t.Errorf("A's refusal record = %+v", r)
					}
					if n := p.srv.Stats.ConnsRefusedPerUID.Load(); n == 0 {
						t.Error("pipelock_conn_limit_refused_total{cap=per_uid} = 0 after A's flood")
					}
					var m strings.Builder
					p.srv.Stats.WritePrometheus(&m)
					if !strings.Contains(m.String(), `pipelock_conn_limit_refused_total{cap="per_uid"} `) {
						t.Errorf("/metrics lacks the per-uid refusal counter:\n%s", m.String())
					}
				} else if served != 0 || !strings.Contains(firstErr, "status 503") {
					t.Fatalf("control: agent B got %d of 20 requests through A's hold of the whole total cap (first error %q); the control shows nothing", served, firstErr)
				}
			})
		})
	}
}

// getThrough fetches https://host/ through the proxy at addr on a new
// tunnel, synchronously on the calling goroutine (so in its thread's
// network namespace), and wants 200 "ok".
func getThrough(addr, host string, pool *x509.CertPool) error {
	c, code, err := connectTo(addr, host+":443")
	if err != nil {
		return err
	}
	defer c.Close()
	if code != http.StatusOK {
		return fmt.Errorf("CONNECT: status %d", code)
	}
	tc := tls.Client(c, &tls.Config{ServerName: host, RootCAs: pool})
	fmt.Fprintf(tc, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host)
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "ok" {
		return fmt.Errorf("GET: %s %q", resp.Status, b)
	}
	return nil
}
