package daemon

import (
	"bufio"
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

	"github.com/clemhq/clem/coord/internal/api"
	"github.com/clemhq/clem/coord/internal/backend/local"
	"github.com/clemhq/clem/coord/internal/config"
	"github.com/clemhq/clem/coord/internal/core"
	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/connlimit"
)

// TestUnixSocketCaps: the unix API behind Admit, as the daemon wires it.
// A caller holding socket.conns.per_uid idle connections gets a 503 for
// the next one and a conn_refused record with its uid and the rule; the
// routes still identify callers by SO_PEERCRED through the wrapper; a
// declared body over coordapi.MaxBody is a 413.
func TestUnixSocketCaps(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse("coord.toml", []byte(fmt.Sprintf(`project = "t"
[mcp]
listen = "127.0.0.1:3130"
[socket]
path = "%s/c.sock"
[socket.conns]
per_uid = 2
total = 8
[state]
dir = "%s"
[[agent]]
key = "a"
uid = 4242
`, dir, dir)))
	if err != nil {
		t.Fatal(err)
	}
	be, err := local.Open(filepath.Join(dir, local.FileName), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	c, err := core.New(cfg, be, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	auditPath := filepath.Join(dir, "audit.log")
	aw, err := audit.Open(auditPath, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer aw.Close()
	ln, err := api.Listen(cfg.Socket.Path)
	if err != nil {
		t.Fatal(err)
	}
	s := api.New(c, aw)
	go s.Serve(Admit(ln, "socket.conns", connlimit.New(cfg.Socket.Conns.PerUID, cfg.Socket.Conns.Total), unixPeerUID, c, aw))
	defer s.Shutdown(t.Context())

	// raw sends one request on a connection of its own and waits for
	// coord to close it (Connection: close), so its slot is free again.
	raw := func(req string) string {
		conn, err := net.Dial("unix", cfg.Socket.Path)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, req)
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("read answer: %v", err)
		}
		io.Copy(io.Discard, br)
		return resp.Status
	}
	// Root is an operator: it is named through the wrapper.
	if got := raw("GET /v1/healthz HTTP/1.1\r\nHost: coord\r\nConnection: close\r\n\r\n"); !strings.HasPrefix(got, "200") {
		t.Fatalf("health through the admitted socket: %s", got)
	}
	// A declared oversize body is refused unread.
	if got := raw(fmt.Sprintf("POST /v1/messages HTTP/1.1\r\nHost: coord\r\nConnection: close\r\nContent-Length: %d\r\n\r\n{", 64<<20)); !strings.HasPrefix(got, "413") {
		t.Errorf("64 MiB declared body: %s, want 413", got)
	}

	// Two idle connections are root's cap; the third is turned away.
	for range 2 {
		conn, err := net.Dial("unix", cfg.Socket.Path)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
	}
	got := raw("GET /v1/healthz HTTP/1.1\r\nHost: coord\r\nConnection: close\r\n\r\n")
	if !strings.HasPrefix(got, "503") {
		t.Errorf("third connection of root: %s, want 503", got)
	}
	data, _ := os.ReadFile(auditPath)
	var refused []audit.Record
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		r, err := audit.Parse([]byte(line))
		if err == nil && r.Event == "conn_refused" {
			refused = append(refused, r)
		}
	}
	if len(refused) == 0 || refused[0].UID == nil || *refused[0].UID != 0 || refused[0].Rule != "socket.conns.per_uid" || refused[0].Decision != audit.Deny {
		t.Errorf("conn_refused records = %+v, want root's under socket.conns.per_uid", refused)
	}
}
