package handoff

import (
	"bufio"
	"io"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/clemhq/clem/shared/testutil/sockpair"
)

// TestSendSocketReceiveSocket: the client's socket and the request travel
// together; the receiver then talks to the client on it, and the sender
// reads the verdict.
func TestSendSocketReceiveSocket(t *testing.T) {
	sender, receiver := sockpair.Unix(t)
	agent, proxySide := sockpair.TCP(t)
	req := Request{Target: "api.example.com:443", Agent: "lead", UID: 1001, ConnID: "c9", Buffered: []byte("\x16\x03\x01hi")}
	if err := SendSocket(sender, proxySide, req); err != nil {
		t.Fatal(err)
	}
	first, client, err := ReceiveSocket(receiver)
	if err != nil || client == nil {
		t.Fatalf("ReceiveSocket = %v, %v; want the client's socket", client, err)
	}
	defer client.Close()
	got, err := ReadRequest(NewReader(first, receiver), true)
	if err != nil {
		t.Fatal(err)
	}
	if uid, _ := got.AgentUID(); got.Target != req.Target || got.Agent != "lead" || uid != 1001 || got.ConnID != "c9" || string(got.Buffered) != string(req.Buffered) {
		t.Errorf("received %+v, want %+v", got, req)
	}
	if _, err := io.WriteString(client, "from the receiver\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(agent).ReadString('\n'); line != "from the receiver\n" {
		t.Errorf("the agent read %q, %v on its socket, want the receiver's line", line, err)
	}
	if err := WriteVerdict(receiver, 403, "not brokered"); err != nil {
		t.Fatal(err)
	}
	a, err := ReadAnswer(bufio.NewReader(sender))
	if err != nil || a.Code != 403 || a.Status != "403 Forbidden" {
		t.Errorf("ReadAnswer = %+v, %v; want 403 Forbidden", a, err)
	}
}

// TestReceiveSocketRefuses: a caller that sends no descriptor is read as
// a byte stream; one that sends two, or one that is not a TCP socket, is
// refused and nothing it sent stays open here.
func TestReceiveSocketRefuses(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, tcp := sockpair.TCP(t)
	raw, _ := tcp.File()
	defer raw.Close()
	other, _ := sockpair.Unix(t)
	uf, _ := other.File()
	defer uf.Close()
	for _, tt := range []struct {
		name string
		fds  []int
		err  string
	}{
		{"no descriptor", nil, ""},
		{"not a socket", []int{int(f.Fd())}, "the handed-over descriptor"},
		{"a unix socket", []int{int(uf.Fd())}, "not a TCP connection"},
		{"two descriptors", []int{int(raw.Fd()), int(raw.Fd())}, "want exactly one descriptor"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sender, receiver := sockpair.Unix(t)
			var oob []byte
			if tt.fds != nil {
				oob = unix.UnixRights(tt.fds...)
			}
			if _, _, err := sender.WriteMsgUnix([]byte("CONNECT a.example:443 HTTP/1.1\r\n\r\n"), oob, nil); err != nil {
				t.Fatal(err)
			}
			first, client, err := ReceiveSocket(receiver)
			if client != nil {
				client.Close()
			}
			if tt.err == "" {
				if err != nil || client != nil || !strings.HasPrefix(string(first), "CONNECT") {
					t.Errorf("ReceiveSocket = %q, %v, %v; want the bytes and no socket", first, client, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) || client != nil {
				t.Errorf("ReceiveSocket = %v, %v; want error %q", client, err, tt.err)
			}
		})
	}
}
