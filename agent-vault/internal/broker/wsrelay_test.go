package broker

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clemhq/clem/agent-vault/internal/subst"
	"github.com/clemhq/clem/shared/audit"
)

// socketPair is a connected pair of unix stream sockets.
func socketPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var cs [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		cs[i] = c
	}
	return cs[0], cs[1]
}

// ended says whether err is how a closed connection reads: EOF, or a
// reset where the relay closed with bytes of the peer's still unread (a
// frame refused by its header is not read on).
func ended(err error) bool {
	return err == io.EOF || errors.Is(err, syscall.ECONNRESET)
}

// events is what a relay did, in order: "record", and for each side the
// close frames it was sent ("agent: close") and its socket closed ("agent:
// closed").
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = append(e.log, s)
}

func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.log)
}

// watchedConn logs to ev the close frames the relay writes to one side
// and its closing the socket; each frame goes out in one Write.
type watchedConn struct {
	net.Conn
	side string
	ev   *events
}

func (c *watchedConn) Write(p []byte) (int, error) {
	if len(p) > 0 && p[0]&0x0f == opClose {
		c.ev.add(c.side + ": close")
	}
	return c.Conn.Write(p)
}

func (c *watchedConn) Close() error {
	c.ev.add(c.side + ": closed")
	return c.Conn.Close()
}

// relayEngine is the engine of a broker whose binding allows the
// websocket surface.
func relayEngine(t *testing.T) *subst.Engine {
	return startWith(t, true, "auth = \"\"\nsurfaces = [\"header\", \"websocket\"]", "", nil).srv.cfg.Load().Engine
}

// testRelay is a relay between agentConn and upConn as the broker would
// run it, its record and what it did logged to ev.
func testRelay(engine *subst.Engine, agentConn, upConn net.Conn, ev *events, stop <-chan struct{}) *wsRelay {
	return &wsRelay{
		engines: &wsEngines{used: []*subst.Engine{engine}}, agentName: "lead", host: "example.com",
		agent:    &wsPeer{side: "agent", conn: &watchedConn{agentConn, "agent", ev}, r: agentConn, gone: closeBadGateway},
		upstream: &wsPeer{side: "upstream", conn: &watchedConn{upConn, "upstream", ev}, r: upConn, mask: true, gone: closeGoingAway},
		rec:      &audit.Record{},
		write:    func(*audit.Record) { ev.add("record") },
		stop:     stop,
	}
}

// TestRelayWebSocketRecord: a relay over real sockets, each side sending
// its frames at once. A sequence RFC 6455 forbids gets its sender a close
// naming the error, the other side a close of its own, and an audit record
// that says which side broke which rule; a clean close is recorded as
// relayed, and a relay stopped (by Shutdown) sends both sides 1001. The
// record is written once, and before the relay sends a close of its own
// or closes either socket: the order is the relay's own, so a regression
// fails every time.
func TestRelayWebSocketRecord(t *testing.T) {
	engine := relayEngine(t)
	huge := strings.Repeat("x", maxMessage+1)
	tests := []struct {
		name         string
		fromAgent    []fr
		fromUpstream []fr
		stop         bool // the relay is stopped before it starts
		wantAgent    []string
		wantUpstream []string
		wantDecision audit.Decision
		wantRule     string
		wantReason   string
		wantUp       int64 // data bytes relayed to upstream
	}{
		{
			name:         "agent: continuation first",
			fromAgent:    []fr{{0x80, "x"}},
			wantAgent:    []string{"close:1002"},
			wantUpstream: []string{"close:1001"},
			wantDecision: audit.Deny, wantRule: ruleFragmentation,
			wantReason: "websocket closed: the agent sent a continuation frame with no message started",
		},
		{
			name:         "upstream: new message inside a fragmented one",
			fromUpstream: []fr{{0x01, "a"}, {0x82, "b"}},
			wantAgent:    []string{"close:1014"},
			wantUpstream: []string{"close:1002"},
			wantDecision: audit.Deny, wantRule: ruleFragmentation,
			wantReason: "websocket closed: the upstream sent a new data frame inside a fragmented message",
		},
		{
			name:         "upstream: fragmented pong",
			fromUpstream: []fr{{0x0A, "p"}},
			wantAgent:    []string{"close:1014"},
			wantUpstream: []string{"close:1002"},
			wantDecision: audit.Deny, wantRule: ruleControl,
			wantReason: "websocket closed: the upstream sent a control frame without FIN",
		},
		{
			name:         "agent: long close",
			fromAgent:    []fr{{0x88, strings.Repeat("c", 200)}},
			wantAgent:    []string{"close:1002"},
			wantUpstream: []string{"close:1001"},
			wantDecision: audit.Deny, wantRule: ruleControl,
			wantReason: "websocket closed: the agent sent a control frame over 125 bytes",
		},
		{
			name:         "agent: reserved opcode",
			fromAgent:    []fr{{0x8F, ""}},
			wantAgent:    []string{"close:1002"},
			wantUpstream: []string{"close:1001"},
			wantDecision: audit.Deny, wantRule: ruleOpcode,
			wantReason: "websocket closed: the agent sent a frame with a reserved opcode",
		},
		{
			name:         "upstream: reserved bit",
			fromUpstream: []fr{{0xa1, "x"}},
			wantAgent:    []string{"close:1014"},
			wantUpstream: []string{"close:1002"},
			wantDecision: audit.Deny, wantRule: ruleReservedBits,
			wantReason: "websocket closed: the upstream sent a websocket frame with a reserved bit set",
		},
		{
			name:         "agent: message too big",
			fromAgent:    []fr{{0x82, huge}},
			wantAgent:    []string{"close:1009"},
			wantUpstream: []string{"close:1001"},
			wantDecision: audit.Deny, wantRule: ruleSize,
			wantReason: "websocket closed: the agent sent a websocket message larger than 1 MiB",
		},
		{
			name:         "agent: another agent's placeholder",
			fromAgent:    []fr{{0x81, "key " + phOther}},
			wantAgent:    []string{"close:1008"},
			wantUpstream: []string{"close:1001"},
			wantDecision: audit.Deny, wantRule: ruleSubstitution,
			wantReason: "websocket message refused: ",
		},
		{
			name:         "upstream: messages held past the scrubber's bound",
			fromUpstream: heldTooLong(),
			wantAgent:    []string{"close:1014"},
			wantUpstream: []string{"close:1008"},
			wantDecision: audit.Deny, wantRule: ruleScrubHold,
			wantReason: "websocket closed: the upstream sent messages that kept ending in the start of a secret",
		},
		{
			name:         "control: the agent closes",
			fromAgent:    []fr{{0x01, "key " + phLead[:5]}, {0x89, "p"}, {0x80, phLead[5:]}, {0x88, "\x03\xe8"}},
			wantAgent:    nil,
			wantUpstream: []string{"ping:p", "text:key " + realKey, "close:1000"},
			wantDecision: audit.Allow,
			wantReason:   "websocket relayed",
			wantUp:       int64(len("key " + realKey)),
		},
		{
			name:         "stopped",
			stop:         true,
			wantAgent:    []string{"close:1001"},
			wantUpstream: []string{"close:1001"},
			wantDecision: audit.Allow,
			wantReason:   reasonShutdown,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agentEnd, agentConn := socketPair(t)
			upEnd, upConn := socketPair(t)
			// Written while the relay runs: a refused frame is not read
			// whole, and the socket buffer holds less than one too big.
			go agentEnd.Write(wire(true, tt.fromAgent...))
			go upEnd.Write(wire(false, tt.fromUpstream...))
			ev := &events{}
			stop := make(chan struct{})
			if tt.stop {
				close(stop)
			}
			relay := testRelay(engine, agentConn, upConn, ev, stop)
			done := make(chan struct{})
			go func() {
				defer close(done)
				relay.run()
			}()
			agent, err := agentGets(bufio.NewReader(agentEnd))
			if !ended(err) || fmt.Sprint(agent) != fmt.Sprint(tt.wantAgent) {
				t.Errorf("the agent got %q, then %v; want %q, then the end", agent, err, tt.wantAgent)
			}
			up, err := agentGets(bufio.NewReader(upEnd))
			if !ended(err) || fmt.Sprint(up) != fmt.Sprint(tt.wantUpstream) {
				t.Errorf("upstream got %q, then %v; want %q, then the end", up, err, tt.wantUpstream)
			}
			<-done
			rec := relay.rec
			if rec.Decision != tt.wantDecision || rec.Rule != tt.wantRule || !strings.HasPrefix(rec.Reason, tt.wantReason) || rec.BytesUp != tt.wantUp || rec.BytesDown != 0 {
				t.Errorf("record: %s, rule %q, %q, %d bytes up, %d down; want %s, rule %q, %q, %d up, 0 down",
					rec.Decision, rec.Rule, rec.Reason, rec.BytesUp, rec.BytesDown, tt.wantDecision, tt.wantRule, tt.wantReason, tt.wantUp)
			}
			checkRecordFirst(t, ev.list(), tt.wantDecision == audit.Allow && !tt.stop)
		})
	}
}

// heldTooLong is the start of the secret (it might go on in the next
// message), then empty messages that neither finish nor end it: more than
// the scrubber holds back.
func heldTooLong() []fr {
	out := []fr{{0x81, realKey[:4]}}
	for range 4096 {
		out = append(out, fr{0x81, ""})
	}
	return out
}

// failingConn fails every data frame written to it.
type failingConn struct{ net.Conn }

var errInjected = errors.New("injected write failure")

func (c failingConn) Write(p []byte) (int, error) {
	if len(p) > 0 && p[0]&0x0f < 0x8 {
		return 0, errInjected
	}
	return c.Conn.Write(p)
}

// TestRelayWebSocketWriteFails: a relay that cannot write a message to a
// side ends as a deny naming websocket.write and the error, not as
// "websocket relayed", and the other side is told (1001 to upstream).
func TestRelayWebSocketWriteFails(t *testing.T) {
	agentEnd, agentConn := socketPair(t)
	upEnd, upConn := socketPair(t)
	ev := &events{}
	relay := testRelay(relayEngine(t), failingConn{agentConn}, upConn, ev, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		relay.run()
	}()
	upEnd.Write(wire(false, fr{0x81, "hello"}))
	up, err := agentGets(bufio.NewReader(upEnd))
	agentEnd.Close()
	if !ended(err) || fmt.Sprint(up) != "[close:1001]" {
		t.Errorf("upstream got %q, then %v; want a close with 1001, then the end", up, err)
	}
	<-done
	if rec := relay.rec; rec.Decision != audit.Deny || rec.Rule != ruleWrite || rec.Reason != "websocket ended: writing to the agent failed" || rec.Error != errInjected.Error() {
		t.Errorf("record: %s, rule %q, %q, error %q; want deny, rule %q, writing to the agent failed, %q", rec.Decision, rec.Rule, rec.Reason, rec.Error, ruleWrite, errInjected)
	}
	checkRecordFirst(t, ev.list(), false)
}

// checkRecordFirst fails unless log holds one record, before either socket
// was closed and, unless forwarded is true (a close the relay passed on
// from the other side may precede it), before any close frame.
func checkRecordFirst(t *testing.T, log []string, forwarded bool) {
	t.Helper()
	if n := slices.Index(log, "record"); n < 0 || slices.Contains(log[n+1:], "record") {
		t.Fatalf("the relay did %q; want one record", log)
	}
	for _, ev := range log[:slices.Index(log, "record")] {
		if strings.HasSuffix(ev, ": closed") || !forwarded && strings.HasSuffix(ev, ": close") {
			t.Errorf("the relay did %q: %q came before the record", log, ev)
		}
	}
}

// TestRelayWebSocketPeerNotReading: an agent that sends a broken frame and
// reads nothing, while upstream fills the agent's socket, does not hold
// the relay: the write blocked on it is cut (closeWait), the relay ends,
// and the record names the agent's error.
func TestRelayWebSocketPeerNotReading(t *testing.T) {
	agentEnd, agentConn := socketPair(t)
	upEnd, upConn := socketPair(t)
	flood := bytes.Repeat(wire(false, fr{0x82, strings.Repeat("d", 64<<10)}), 64)
	go upEnd.Write(flood)
	ev := &events{}
	relay := testRelay(relayEngine(t), agentConn, upConn, ev, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		relay.run()
	}()
	agentEnd.Write(wire(true, fr{0x80, "x"}))
	<-done
	if rec := relay.rec; rec.Decision != audit.Deny || rec.Rule != ruleFragmentation {
		t.Errorf("record: %s, rule %q, %q; want the agent's fragmentation error", rec.Decision, rec.Rule, rec.Reason)
	}
	checkRecordFirst(t, ev.list(), false)
}

// TestFailConnectionPeerNotReading: failConnection returns when the
// offender's socket is full and it reads nothing (its close is cut by the
// deadline), and the other side is still told.
func TestFailConnectionPeerNotReading(t *testing.T) {
	_, agentConn := socketPair(t)
	upEnd, upConn := socketPair(t)
	chunk := make([]byte, 64<<10)
	agentConn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	for {
		if _, err := agentConn.Write(chunk); err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("filling the agent's socket: %v", err)
			}
			break
		}
	}
	failConnection(&wsPeer{side: "agent", conn: agentConn, gone: closeBadGateway},
		&wsPeer{side: "upstream", conn: upConn, mask: true, gone: closeGoingAway}, errOrphanContinuation)
	upConn.Close()
	if up, err := agentGets(bufio.NewReader(upEnd)); !ended(err) || fmt.Sprint(up) != "[close:1001]" {
		t.Errorf("upstream got %q, then %v; want a close with 1001, then the end", up, err)
	}
}
