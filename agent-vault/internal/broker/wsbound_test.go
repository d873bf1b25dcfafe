package broker

import (
	"bufio"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/audit"
)

// TestRelayMessageProgress: a message the sender started must arrive whole
// within the relay's progress bound, or the relay ends: the sender gets
// 1008 (policy), the other side its own close, and the record names
// websocket.stalled. Between messages there is no clock: a relay with
// nothing started may stay quiet. The bound here is 1ns, so the clock has
// run out the moment it starts: a frame that arrives in one read passes,
// and a message that needs one more read does not.
func TestRelayMessageProgress(t *testing.T) {
	engine := relayEngine(t)
	tests := []struct {
		name         string
		first, then  []fr // the agent's frames, the second batch once upstream has the first's
		wantAgent    []string
		wantUpstream []string
		wantDecision audit.Decision
		wantRule     string
	}{
		{
			name:         "a message started and left unfinished",
			first:        []fr{{0x01, "par"}},
			wantAgent:    []string{"close:1008"},
			wantUpstream: []string{"close:1001"},
			wantDecision: audit.Deny, wantRule: ruleStalled,
		},
		{
			name:         "control: quiet between messages",
			first:        []fr{{0x81, "a"}},
			then:         []fr{{0x81, "b"}, {0x88, "\x03\xe8"}},
			wantUpstream: []string{"text:a", "text:b", "close:1000"},
			wantDecision: audit.Allow,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agentEnd, agentConn := socketPair(t)
			upEnd, upConn := socketPair(t)
			ev := &events{}
			relay := testRelay(engine, agentConn, upConn, ev, nil)
			relay.agent.r = bufio.NewReader(agentConn)
			relay.progress = time.Nanosecond
			done := make(chan struct{})
			go func() {
				defer close(done)
				relay.run()
			}()
			agentEnd.Write(wire(true, tt.first...))
			ubr := bufio.NewReader(upEnd)
			var up []string
			if tt.then != nil {
				f, err := readFrame(ubr)
				if err != nil {
					t.Fatalf("upstream, waiting for the first message: %v", err)
				}
				up = append(up, frameLabel(f))
				agentEnd.Write(wire(true, tt.then...))
			}
			more, err := agentGets(ubr)
			up = append(up, more...)
			if !ended(err) || fmt.Sprint(up) != fmt.Sprint(tt.wantUpstream) {
				t.Errorf("upstream got %q, then %v; want %q, then the end", up, err, tt.wantUpstream)
			}
			agent, err := agentGets(bufio.NewReader(agentEnd))
			if !ended(err) || fmt.Sprint(agent) != fmt.Sprint(tt.wantAgent) {
				t.Errorf("the agent got %q, then %v; want %q, then the end", agent, err, tt.wantAgent)
			}
			<-done
			if rec := relay.rec; rec.Decision != tt.wantDecision || rec.Rule != tt.wantRule {
				t.Errorf("record: %s, rule %q, %q; want %s, rule %q", rec.Decision, rec.Rule, rec.Reason, tt.wantDecision, tt.wantRule)
			}
		})
	}
}

// TestWebSocketHeldBytesBudget: over real sockets, an agent opens more
// relays than its budget of unfinished messages covers and leaves a 1 MiB
// message unfinished on each (a frame without FIN, then a ping that shows
// the frame was read). The bytes agent-vault holds for it never pass the
// budget: the relays past it end with 1009 to the agent and a deny record
// naming websocket.budget, and once all have ended it holds nothing.
func TestWebSocketHeldBytesBudget(t *testing.T) {
	const budget, relays = 4 << 20, 6
	got := make(chan string, 16)
	e := startWith(t, true, "auth = \"\"\nsurfaces = [\"header\", \"websocket\"]", "", wsScripted(nil, got))
	e.srv.wsHeld.setLimits(budget, 0)
	partial := wire(true, fr{0x02, strings.Repeat("m", maxMessage-1)}, fr{0x89, "read"})
	held, refused := 0, 0
	for i := range relays {
		tc, br := wsDial(t, e)
		go tc.Write(partial)
		ends := make(chan []string, 1)
		go func() {
			frames, _ := agentGets(br)
			ends <- frames
		}()
		// Either upstream gets the ping (the message is held), or the
		// relay refused the message and ends.
		switch s := <-got; s {
		case "ping:read":
			held++
		case "close:1001":
			if frames := <-ends; fmt.Sprint(frames) != "[close:1009]" {
				t.Errorf("relay %d: the agent got %q, want a close with 1009", i, frames)
			}
			<-got // its "end"
			refused++
		default:
			t.Fatalf("relay %d: upstream got %q, want ping:read or close:1001", i, s)
		}
		if n := e.srv.wsHeld.held(agentUID); n > budget {
			t.Fatalf("after relay %d agent-vault holds %d bytes of the agent's, past its budget of %d", i, n, budget)
		}
	}
	if held != budget/maxMessage || refused != relays-held {
		t.Errorf("%d relays held their message and %d were refused; want %d and %d", held, refused, budget/maxMessage, relays-budget/maxMessage)
	}
	var denied int
	for _, r := range requestRecords(t, e, "/ws") {
		if r.Decision == audit.Deny && r.Rule == ruleBudget {
			denied++
		}
	}
	if denied != refused {
		t.Errorf("%d records deny by %s, want one per refused relay (%d):\n%s", denied, ruleBudget, refused, e.audit.String())
	}
	if err := e.srv.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.wsHeld.held(agentUID); n != 0 {
		t.Errorf("after every relay ended agent-vault holds %d bytes of the agent's, want 0", n)
	}
}
