package daemon

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"

	clemadmin "github.com/clemhq/clem/shared/admin"
	"github.com/clemhq/clem/shared/testutil/notifysock"
	"github.com/clemhq/clem/shared/testutil/syncbuf"
)

// sighup sends the daemon SIGHUP and waits until the reload it starts
// has finished: RELOADING=1, READY=1, then the STATUS= line lifecycle
// sends once it has counted the reload.
func (d *daemon) sighup() {
	d.t.Helper()
	d.notify.Pending() // what earlier reloads sent: the next RELOADING=1 is this one's
	d.signals <- syscall.SIGHUP
	d.notify.UntilPrefix("RELOADING=1")
	d.notify.UntilPrefix("READY=1")
	d.notify.UntilPrefix("STATUS=")
}

// daemon is a pipelock run by a test.
type daemon struct {
	t       *testing.T
	cfgPath string
	proxy   string
	admin   *http.Client
	journal *syncbuf.Buffer
	notify  *notifysock.Socket
	signals chan os.Signal
	lns     []net.Listener
	cancel  context.CancelFunc
	done    chan error
}

// startDaemon runs the daemon on the config at cfgPath (proxy address
// proxyAddr, admin socket sock) until the test ends, and waits for READY.
func startDaemon(t *testing.T, cfgPath, proxyAddr, sock string) *daemon {
	t.Helper()
	d := &daemon{t: t, cfgPath: cfgPath, proxy: proxyAddr, admin: clemadmin.Client(sock), journal: &syncbuf.Buffer{},
		notify: notifysock.Listen(t, 0), signals: make(chan os.Signal, 1), done: make(chan error, 1)}
	got := make(chan []net.Listener, 1)
	listening = func(lns []net.Listener) { got <- lns }
	t.Cleanup(func() { listening = func([]net.Listener) {} })
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go func() {
		d.done <- serve(ctx, cfgPath, slog.New(slog.NewJSONHandler(d.journal, nil)), d.signals)
	}()
	t.Cleanup(func() { d.stop() })
	select {
	case d.lns = <-got:
	case err := <-d.done:
		d.done <- err
		t.Fatalf("daemon ended before listening: %v", err)
	}
	d.notify.UntilPrefix("READY=1")
	return d
}

// stop cancels the daemon and returns what Run returned.
func (d *daemon) stop() error {
	d.cancel()
	err, ok := <-d.done
	if ok {
		close(d.done)
	}
	d.admin.CloseIdleConnections()
	return err
}

// get does GET path on the admin socket and returns status and body.
func (d *daemon) get(path string) (int, string) {
	d.t.Helper()
	resp, err := d.admin.Get("http://admin" + path)
	if err != nil {
		d.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// post does POST path on the admin socket.
func (d *daemon) post(path string) (int, string) {
	d.t.Helper()
	resp, err := d.admin.Post("http://admin"+path, "", nil)
	if err != nil {
		d.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// connect sends CONNECT host:443 and returns the status and body.
func (d *daemon) connect(host string) (int, string) {
	d.t.Helper()
	c, err := net.Dial("tcp", d.proxy)
	if err != nil {
		d.t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n", host, host)
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
	if err != nil {
		d.t.Fatalf("CONNECT %s: %v", host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

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

// writeConfig writes a config serving proxyAddr and sock, auditing to
// auditPath, with one client (this test's uid) allowed domains.
func writeConfig(t *testing.T, path, proxyAddr, sock, auditPath, domains string) {
	t.Helper()
	closed := freePort(t)
	// Resolve overrides to a closed port: allowed hosts get 502 and no DNS
	// query ever leaves the host.
	src := fmt.Sprintf("[listen]\nproxy = %q\nadmin = %q\n[audit]\npath = %q\n%s%s[[client]]\nname = \"me\"\nuids = [%d]\ndomains = [%s]\n",
		proxyAddr, sock, auditPath, pin("one.example.com", closed), pin("two.example.com", closed), os.Getuid(), domains)
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
}
