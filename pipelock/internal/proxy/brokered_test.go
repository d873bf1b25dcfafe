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
	mode    vaultMode
}

// vaultMode is how the fake agent-vault answers.
type vaultMode int

const (
	vaultAdmits  vaultMode = iota
	vaultRefuses           // 403 to the client (descriptor) and as the verdict or answer
	vaultSilent            // closes everything without a verdict or answer
)

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
		switch v.mode {
		case vaultRefuses:
			fmt.Fprint(uc, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
			return
		case vaultSilent:
			return
		}
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
	switch v.mode {
	case vaultRefuses:
		fmt.Fprint(client, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		fmt.Fprint(uc, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
		return
	case vaultSilent:
		return
	}
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
			r := p.record("api.example.com:443")
			if !strings.Contains(r.Reason, tt.reason) || r.Client != "lead" || r.Decision != "allow" {
				t.Errorf("audit record = %+v, want allow, reason %q", r, tt.reason)
			}
			if want := map[bool]string{true: EventHandover, false: EventClose}[tt.fd]; r.Event != want {
				t.Errorf("audit record event = %q, want %q", r.Event, want)
			}
			if a, d := p.srv.Stats.Allowed.Load(), p.srv.Stats.Denied.Load(); a != 1 || d != 0 {
				t.Errorf("counted %d allowed, %d denied; want 1, 0", a, d)
			}
		})
	}
}

// TestBrokeredHandOffFails pins what a failed hand-off does, handed over
// or relayed: the status the client sees, the audit record (denied, with
// the reason and event) and the deny counter.
func TestBrokeredHandOffFails(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mode   vaultMode
		budget bool   // relayed, not handed over
		noSock bool   // nothing listens on the vault's socket
		status int    // what the client reads; 0: the connection closes unanswered
		reason string // the record's
		event  string
		error  bool // the record carries an error
	}{
		{"handed over, refused", vaultRefuses, false, false, 403, "agent-vault refused: 403 Forbidden", EventHandover, false},
		{"handed over, no verdict", vaultSilent, false, false, 0, "agent-vault took the connection but sent no verdict", EventHandover, true},
		{"relayed, refused", vaultRefuses, true, false, 403, "agent-vault refused: 403 Forbidden", "", false},
		{"relayed, no answer", vaultSilent, true, false, 502, "agent-vault hand-off failed: unexpected EOF", "", false},
		{"vault unreachable", vaultAdmits, false, true, 502, "agent-vault unreachable: dial unix", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := startFakeVault(t)
			v.mode = tt.mode
			sock := v.sock
			if tt.noSock {
				sock = filepath.Join(t.TempDir(), "absent.sock")
			}
			budget := ""
			if tt.budget {
				budget = "budget_bytes = 1000000\nbudget_window = \"1h\"\n"
			}
			p := startProxy(t, fmt.Sprintf(`[vault]
socket = %q
[[client]]
name = "lead"
uids = [{{UID}}]
domains = ["api.example.com"]
brokered = ["api.example.com"]
%s`, sock, budget), nil)
			c, err := net.Dial("tcp", p.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprint(c, "CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
			switch {
			case tt.status == 0 && err == nil:
				t.Errorf("the client got %s, want the connection closed unanswered", resp.Status)
			case tt.status != 0 && err != nil:
				t.Errorf("the client got %v, want %d", err, tt.status)
			case tt.status != 0 && resp.StatusCode != tt.status:
				t.Errorf("the client got %s, want %d", resp.Status, tt.status)
			}
			r := p.record("api.example.com:443")
			if r.Decision != "deny" || !strings.HasPrefix(r.Reason, tt.reason) || r.Event != tt.event || (r.Error != "") != tt.error || r.Client != "lead" {
				t.Errorf("audit record = %s %q event %q error %q, want deny %q event %q error %v", r.Decision, r.Reason, r.Event, r.Error, tt.reason, tt.event, tt.error)
			}
			if a, d := p.srv.Stats.Allowed.Load(), p.srv.Stats.Denied.Load(); a != 0 || d != 1 {
				t.Errorf("counted %d allowed, %d denied; want 0, 1", a, d)
			}
		})
	}
}
