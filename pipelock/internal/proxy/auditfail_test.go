package proxy

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clemhq/clem/pipelock/internal/config"
	"github.com/clemhq/clem/shared/audit"
)

// failingLog is an audit stream that fails every write (ENOSPC) while
// failing is set.
type failingLog struct {
	mu      sync.Mutex
	failing bool
	syncBuffer
}

func (f *failingLog) set(failing bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failing = failing
}

func (f *failingLog) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failing {
		return 0, syscall.ENOSPC
	}
	return f.syncBuffer.Write(p)
}

// rawUpstream accepts connections and reports how many bytes each carried
// before it closed.
func rawUpstream(t *testing.T) (addr string, got <-chan int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan int64, 16)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				n, _ := io.Copy(io.Discard, c)
				ch <- n
			})
		}
	})
	return ln.Addr().String(), ch
}

// TestAuditUnwritable: with the audit log failing, no connection is let
// through: a refusal is answered 503 saying the log is unavailable instead
// of its own status, an allowed CONNECT or plain HTTP request is refused
// the same way before anything is dialed, and the one tunnel answered
// before the failure was known (its open record is the first write to
// fail) carries no byte. The control is the same requests with the log
// working, before and after.
func TestAuditUnwritable(t *testing.T) {
	upAddr, upBytes := rawUpstream(t)
	src := fmt.Sprintf(`[listen]
proxy = "127.0.0.1:1"
[[resolve]]
host = "example.com"
port = 443
address = %q
[[client]]
name = "lead"
uids = [%d]
domains = ["example.com"]
http_domains = ["example.com"]
`, upAddr, me)
	cfg, err := config.Parse("auditfail.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	log := &failingLog{}
	aw := audit.NewWriter(log)
	srv := New(cfg, Options{Audit: aw})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-served
	})
	p := &testProxy{t: t, srv: srv, addr: ln.Addr().String(), ln: ln}

	// Control: the log works.
	if _, _, code, body := p.connect("other.example.com:443"); code != 403 {
		t.Fatalf("denied CONNECT with the log working = %d %q, want 403", code, body)
	}
	c, _, code, _ := p.connect("example.com:443")
	if code != 200 {
		t.Fatalf("allowed CONNECT with the log working = %d, want 200", code)
	}
	c.Close()
	<-upBytes

	log.set(true)
	// The first connection after the log fails: nothing has failed yet,
	// so it is answered 200; its open record then fails and the tunnel
	// carries nothing.
	c, _, code, _ = p.connect("example.com:443")
	if code != 200 {
		t.Fatalf("allowed CONNECT, first after the log failed = %d, want 200", code)
	}
	tc := tls.Client(c, &tls.Config{ServerName: "example.com", InsecureSkipVerify: true})
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err == nil {
		t.Error("TLS through a tunnel whose open record failed completed")
	}
	c.Close()
	if n := <-upBytes; n != 0 {
		t.Errorf("upstream got %d bytes through a tunnel whose open record failed, want 0", n)
	}
	if aw.Err() == nil {
		t.Fatal("the failed open record left no error in the Writer")
	}

	for _, target := range []string{"example.com:443", "other.example.com:443"} {
		_, _, code, body := p.connect(target)
		if code != 503 || !strings.HasPrefix(body, "pipelock: audit log unavailable: ") || !strings.Contains(body, "no space left") {
			t.Errorf("CONNECT %s with the log failing = %d %q, want 503 saying the audit log is unavailable", target, code, body)
		}
	}
	code, body := httpGet(t, p.addr, "http://example.com/")
	if code != 503 || !strings.HasPrefix(body, "pipelock: audit log unavailable: ") {
		t.Errorf("plain HTTP with the log failing = %d %q, want 503", code, body)
	}
	select {
	case n := <-upBytes:
		t.Errorf("upstream was dialed (%d bytes) while the log failed", n)
	default:
	}
	if got := srv.Stats.AuditRefused.Load(); got != 4 {
		t.Errorf("AuditRefused = %d, want 4 (the cut tunnel and three refusals)", got)
	}

	log.set(false)
	if _, _, code, _ := p.connect("other.example.com:443"); code != 403 {
		t.Errorf("denied CONNECT once the log works again = %d, want 403", code)
	}
	if aw.Err() != nil {
		t.Errorf("Err() after a record was written = %v, want nil", aw.Err())
	}
	c, _, code, _ = p.connect("example.com:443")
	if code != 200 {
		t.Errorf("allowed CONNECT once the log works again = %d, want 200", code)
	}
	c.Close()
}

// httpGet sends an absolute-form GET for url through the proxy at addr.
func httpGet(t *testing.T, addr, url string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n", url)
	b, _ := io.ReadAll(c)
	head, body, _ := strings.Cut(string(b), "\r\n\r\n")
	var code int
	fmt.Sscanf(head, "HTTP/1.1 %d", &code)
	return code, body
}
