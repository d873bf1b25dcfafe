package daemon

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// syncBuffer is the daemon's journal in a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// notifySocket points NOTIFY_SOCKET at a fresh socket, so the test waits
// for the daemon's own READY=1 instead of polling its sockets.
type notifySocket struct {
	t    *testing.T
	conn *net.UnixConn
}

func newNotifySocket(t *testing.T) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", "")
	return &notifySocket{t: t, conn: conn}
}

// waitFor reads sd_notify messages until one contains want. The deadline
// is only there so a broken daemon fails the test rather than hangs it.
func (n *notifySocket) waitFor(want string) {
	n.t.Helper()
	buf := make([]byte, 4096)
	n.conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	for {
		k, err := n.conn.Read(buf)
		if err != nil {
			n.t.Fatalf("waiting for sd_notify %q: %v", want, err)
		}
		if strings.Contains(string(buf[:k]), want) {
			return
		}
	}
}

// drain discards what was already sent, without waiting: a reload over
// the admin socket has sent all of its messages by the time it answers,
// so after drain the next RELOADING=1 is the next reload's.
// (A read deadline of now would not do: Go fails such a read before it
// looks at the socket.)
func (n *notifySocket) drain() {
	n.t.Helper()
	rc, err := n.conn.SyscallConn()
	if err != nil {
		n.t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for got := true; got; {
		rc.Read(func(fd uintptr) bool {
			_, _, err := unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
			got = err == nil
			return true
		})
	}
}

// sighup sends the daemon SIGHUP and waits until the reload it starts
// has finished: RELOADING=1, READY=1, then the STATUS= line lifecycle
// sends once it has counted the reload.
func (d *daemon) sighup() {
	d.t.Helper()
	d.notify.drain()
	d.signals <- syscall.SIGHUP
	d.notify.waitFor("RELOADING=1")
	d.notify.waitFor("READY=1")
	d.notify.waitFor("STATUS=")
}

// daemon is a pipelock run by a test.
type daemon struct {
	t       *testing.T
	cfgPath string
	proxy   string
	admin   *http.Client
	journal *syncBuffer
	notify  *notifySocket
	signals chan os.Signal
	lns     []net.Listener
	cancel  context.CancelFunc
	done    chan error
}

// startDaemon runs the daemon on the config at cfgPath (proxy address
// proxyAddr, admin socket sock) until the test ends, and waits for READY.
func startDaemon(t *testing.T, cfgPath, proxyAddr, sock string) *daemon {
	t.Helper()
	d := &daemon{t: t, cfgPath: cfgPath, proxy: proxyAddr, admin: adminClient(sock), journal: &syncBuffer{},
		notify: newNotifySocket(t), signals: make(chan os.Signal, 1), done: make(chan error, 1)}
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
	d.notify.waitFor("READY=1")
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

func adminClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
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
