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

	"github.com/clemhq/clem/shared/handoff"
	"github.com/clemhq/clem/shared/testutil/sockpair"
)

// handOver plays pipelock's side of the descriptor hand-off: it accepts
// the agent's TCP connection, sends that socket with a CONNECT over the
// broker's unix socket and returns the agent's end, which now talks to
// the broker directly, and the verdict the broker sent back.
func (e *env) handOver(t *testing.T, target, agent string, pre string) (agentEnd net.Conn, verdict int) {
	t.Helper()
	agentEnd, proxySide := sockpair.TCP(t)
	defer proxySide.Close() // the broker holds its own copy
	vc, err := net.Dial("unix", e.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	req := handoff.Request{Target: target, Agent: agent, UID: agentUID, ConnID: "fd-conn-1", Buffered: []byte(pre)}
	if err := handoff.SendSocket(vc.(*net.UnixConn), proxySide, req); err != nil {
		t.Fatal(err)
	}
	vc.SetReadDeadline(time.Now().Add(10 * time.Second))
	a, err := handoff.ReadAnswer(bufio.NewReader(vc))
	if err != nil {
		t.Fatalf("verdict: %v", err)
	}
	return agentEnd, a.Code
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

// agentUID is the uid the tests' proxy names for the agent; agent-vault
// records it (not the proxy's own) in its audit lines.
const agentUID = 4242

// pipelined is an agent that sends its ClientHello right behind its
// CONNECT, before the 200: its reads skip the CONNECT's answer.
type pipelined struct {
	net.Conn
	br       *bufio.Reader
	answered bool
	status   int
}

func (p *pipelined) Read(b []byte) (int, error) {
	if !p.answered {
		p.answered = true
		resp, err := http.ReadResponse(p.br, &http.Request{Method: http.MethodConnect})
		if err != nil {
			return 0, err
		}
		p.status = resp.StatusCode
	}
	return p.br.Read(b)
}

// TestDescriptorHandOffWithBufferedHello: the bytes the proxy read before
// it handed the socket over (here the agent's whole ClientHello) reach the
// broker's TLS ahead of the socket's own, and the tunnel works.
func TestDescriptorHandOffWithBufferedHello(t *testing.T) {
	e := start(t, true, "")
	agentEnd, proxySide := sockpair.TCP(t)
	p := &pipelined{Conn: agentEnd, br: bufio.NewReader(agentEnd)}
	tc := tls.Client(p, &tls.Config{RootCAs: e.caPool, ServerName: "example.com"})
	handshake := make(chan error, 1)
	go func() { handshake <- tc.Handshake() }()
	// The proxy reads the ClientHello record off the agent's socket, as
	// pipelock's buffered reader would, then hands both over.
	var hdr [5]byte
	if _, err := io.ReadFull(proxySide, hdr[:]); err != nil {
		t.Fatal(err)
	}
	hello := make([]byte, 5+(int(hdr[3])<<8|int(hdr[4])))
	copy(hello, hdr[:])
	if _, err := io.ReadFull(proxySide, hello[5:]); err != nil {
		t.Fatal(err)
	}
	vc, err := net.Dial("unix", e.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	req := handoff.Request{Target: "example.com:443", Agent: "lead", UID: agentUID, ConnID: "fd-hello", Buffered: hello}
	if err := handoff.SendSocket(vc.(*net.UnixConn), proxySide, req); err != nil {
		t.Fatal(err)
	}
	if a, err := handoff.ReadAnswer(bufio.NewReader(vc)); err != nil || a.Code != 200 {
		t.Fatalf("verdict = %+v, %v; want 200", a, err)
	}
	if err := <-handshake; err != nil || p.status != 200 {
		t.Fatalf("the agent's handshake over the handed-over socket: %v (CONNECT answer %d)", err, p.status)
	}
	fmt.Fprintf(tc, "GET /v1/x HTTP/1.1\r\nHost: example.com\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n", phLead)
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "auth=Bearer "+phLead+" q=" {
		t.Errorf("brokered GET = %d %q", resp.StatusCode, body)
	}
}
