package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/clemhq/clem/shared/handoff"
)

// fakeVault is agent-vault's side of the hand-off, enough to see what
// pipelock sends: with a descriptor it answers the client on that socket
// and sends a verdict; without one it answers the CONNECT and echoes the
// tunnel's bytes.
type fakeVault struct {
	sock    string
	headers chan http.Header
}

func startFakeVault(t *testing.T) *fakeVault {
	t.Helper()
	v := &fakeVault{sock: filepath.Join(t.TempDir(), "vault.sock"), headers: make(chan http.Header, 4)}
	ln, err := net.Listen("unix", v.sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go v.serve(c.(*net.UnixConn))
		}
	}()
	return v
}

func (v *fakeVault) serve(uc *net.UnixConn) {
	defer uc.Close()
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
	if err != nil {
		return
	}
	br := bufio.NewReader(io.MultiReader(strings.NewReader(string(buf[:n])), uc))
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	v.headers <- req.Header
	if oobn == 0 { // relayed: answer, then echo
		fmt.Fprint(uc, "HTTP/1.1 200 OK\r\n\r\n")
		io.Copy(uc, br)
		return
	}
	msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
	fds, _ := unix.ParseUnixRights(&msgs[0])
	f := os.NewFile(uintptr(fds[0]), "client")
	client, _ := net.FileConn(f)
	f.Close()
	defer client.Close()
	fmt.Fprint(client, "HTTP/1.1 200 Connection Established\r\n\r\n")
	fmt.Fprint(uc, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	line, _ := bufio.NewReader(client).ReadString('\n')
	fmt.Fprintf(client, "vault heard: %s", line)
}

// TestBrokeredHandOff: a brokered CONNECT hands the client's socket to
// agent-vault (which then talks to the client directly) and is audited as
// handed over; a client with a byte budget is relayed instead, so its
// bytes are counted.
func TestBrokeredHandOff(t *testing.T) {
	v := startFakeVault(t)
	for _, tt := range []struct {
		name, budget, reason string
		fd                   bool
	}{
		{"handed over", "", "connection handed over", true},
		{"relayed for a budget", "budget_bytes = 1000000\nbudget_window = \"1h\"\n", "brokered through agent-vault", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := startProxy(t, fmt.Sprintf(`[vault]
socket = %q
[[client]]
name = "lead"
uids = [{{UID}}]
domains = ["api.example.com"]
brokered = ["api.example.com"]
%s`, v.sock, tt.budget), nil)
			c, br, status, _ := p.connect("api.example.com:443")
			defer c.Close()
			if status != 200 {
				t.Fatalf("CONNECT = %d, want 200", status)
			}
			h := <-v.headers
			if h.Get(handoff.HeaderAgent) != "lead" || (h.Get(handoff.HeaderFD) == "1") != tt.fd {
				t.Errorf("hand-off headers = %v, want agent lead, descriptor %v", h, tt.fd)
			}
			fmt.Fprint(c, "hello\n")
			got, _ := br.ReadString('\n')
			if want := "hello\n"; tt.fd {
				if got != "vault heard: "+want {
					t.Errorf("the client heard %q, want the vault's answer", got)
				}
			} else if got != want {
				t.Errorf("the relayed echo = %q, want %q", got, want)
			}
			c.Close()
			if r := p.record("api.example.com:443"); !strings.Contains(r.Reason, tt.reason) || r.Client != "lead" {
				t.Errorf("audit record = %+v, want reason %q", r, tt.reason)
			}
		})
	}
}
