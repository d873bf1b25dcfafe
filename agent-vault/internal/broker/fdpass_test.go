package broker

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/clemhq/clem/shared/handoff"
)

// handOver plays pipelock's side of the descriptor hand-off: it accepts
// the agent's TCP connection, sends that socket with a CONNECT over the
// broker's unix socket and returns the agent's end, which now talks to
// the broker directly, and the verdict the broker sent back.
func (e *env) handOver(t *testing.T, target, agent string, pre string) (agentEnd net.Conn, verdict int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	agentEnd, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agentEnd.Close() })
	proxySide, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer proxySide.Close() // the broker holds its own copy
	vc, err := net.Dial("unix", e.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	msg := handoff.Request{Target: target, Agent: agent, UID: agentUID, ConnID: "fd-conn-1", FD: true, Buffered: []byte(pre)}.Append(nil)
	raw, _ := proxySide.(*net.TCPConn).SyscallConn()
	var sendErr error
	raw.Control(func(fd uintptr) {
		_, _, sendErr = vc.(*net.UnixConn).WriteMsgUnix(msg, unix.UnixRights(int(fd)), nil)
	})
	if sendErr != nil {
		t.Fatal(sendErr)
	}
	vc.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(vc), nil)
	if err != nil {
		t.Fatalf("verdict: %v", err)
	}
	resp.Body.Close()
	return agentEnd, resp.StatusCode
}

// TestDescriptorHandOff: with the client's socket handed over, the broker
// answers the client itself (200, then TLS and the brokered request with
// the real key upstream), and tells the proxy its verdict; a refused
// hand-off reaches the client as a 403 from the broker.
func TestDescriptorHandOff(t *testing.T) {
	e := start(t, true, "")
	c, verdict := e.handOver(t, "example.com:443", "lead", "")
	if verdict != 200 {
		t.Fatalf("verdict = %d, want 200", verdict)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the client's CONNECT answer: %v %v", resp, err)
	}
	tc := tls.Client(c, &tls.Config{RootCAs: e.caPool, ServerName: "example.com"})
	if err := tc.HandshakeContext(context.Background()); err != nil {
		t.Fatalf("TLS with the broker over the handed-over socket: %v", err)
	}
	fmt.Fprintf(tc, "GET /v1/x HTTP/1.1\r\nHost: example.com\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n", phLead)
	resp, err = http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "auth=Bearer "+phLead+" q=" {
		t.Errorf("brokered GET over the handed-over socket = %d %q", resp.StatusCode, body)
	}
	if !strings.Contains(e.audit.String(), `"conn_id":"fd-conn-1"`) || !strings.Contains(e.audit.String(), `"uid":4242`) {
		t.Errorf("audit lacks the proxy's conn id or the agent's uid:\n%s", e.audit.String())
	}

	// An unbound host: the broker refuses the client itself, and says so.
	c, verdict = e.handOver(t, "other.example:443", "lead", "")
	if verdict != 403 {
		t.Errorf("verdict for an unbound host = %d, want 403", verdict)
	}
	resp, err = http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != 403 {
		t.Errorf("the client's answer for an unbound host: %v %v", resp, err)
	}
}

func TestReadBuffered(t *testing.T) {
	for _, tt := range []struct {
		header, stream string
		want           string
		ok             bool
	}{
		{"", "", "", true},
		{"5", "hello world", "hello", true},
		{"5", "hey", "", false},
		{"-1", "", "", false},
		{"70000", "", "", false},
		{"x", "", "", false},
	} {
		got, err := readBuffered(strings.NewReader(tt.stream), tt.header)
		if (err == nil) != tt.ok || string(got) != tt.want {
			t.Errorf("readBuffered(%q, %q) = %q, %v; want %q, ok %v", tt.stream, tt.header, got, err, tt.want, tt.ok)
		}
	}
}

// agentUID is the uid the tests' proxy names for the agent; agent-vault
// records it (not the proxy's own) in its audit lines.
const agentUID = 4242
