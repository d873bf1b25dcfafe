package broker

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// wsScripted is an upstream that accepts the upgrade, sends script (raw
// frames, broken ones included) and reports each frame the broker sends it
// on got, as frameLabel names it, then "end" when its side ends.
func wsScripted(script []byte, got chan<- string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", wsAccept(r.Header.Get("Sec-WebSocket-Key")))
		c.Write(script)
		messages(brw, func(op byte, msg []byte) error {
			got <- frameLabel(frame{op: op, payload: msg})
			return nil
		}, func(f frame) error {
			got <- frameLabel(f)
			return nil
		})
		got <- "end"
	}
}

// frameLabel names a frame for a test's want list: "text:payload", and
// "close:1002" for a close frame, by its status code.
func frameLabel(f frame) string {
	switch f.op {
	case opText:
		return "text:" + string(f.payload)
	case opBinary:
		return "binary:" + string(f.payload)
	case 0x9:
		return "ping:" + string(f.payload)
	case 0xA:
		return "pong:" + string(f.payload)
	case opClose:
		if len(f.payload) < 2 {
			return "close:"
		}
		return fmt.Sprintf("close:%d", binary.BigEndian.Uint16(f.payload))
	}
	return fmt.Sprintf("op%x:%s", f.op, f.payload)
}

// agentGets reads what the broker sends the agent until the connection
// ends, and how it ends.
func agentGets(br *bufio.Reader) ([]string, error) {
	var got []string
	for {
		f, err := readFrame(br)
		if err != nil {
			return got, err
		}
		got = append(got, frameLabel(f))
	}
}

// upstreamGets collects what wsScripted reported, up to its "end".
func upstreamGets(got <-chan string) []string {
	var out []string
	for s := range got {
		if s == "end" {
			return out
		}
		out = append(out, s)
	}
	return out
}

// TestWebSocketProtocolErrors: a frame sequence RFC 6455 forbids ends the
// relay, whichever side sends it: the sender gets a close with status 1002
// (protocol error), the other side a close too (1001 going away to an
// upstream, 1014 bad gateway to the agent), and nothing of the message being
// assembled goes on. Upstream rows carry the key in pieces: the agent must
// get none of it, whole or in part. The control rows show the same frames in
// an order the RFC allows (a ping between fragments) relayed, the key
// substituted into the reassembled message and scrubbed from it.
func TestWebSocketProtocolErrors(t *testing.T) {
	half := len(realKey) / 2
	hp := len("key ") + 10 // where the agent splits its placeholder
	tests := []struct {
		name         string
		fromAgent    []fr // sent by the agent after the handshake
		fromUpstream []fr // sent by upstream after its 101
		wantAgent    []string
		wantUpstream []string
	}{
		{
			name:         "agent: continuation first",
			fromAgent:    []fr{{0x80, "key " + phLead}},
			wantAgent:    []string{"close:1002"},
			wantUpstream: []string{"close:1001"},
		},
		{
			name:         "agent: continuation after a message",
			fromAgent:    []fr{{0x81, "hi"}, {0x80, "key " + phLead}},
			wantAgent:    []string{"close:1002"},
			wantUpstream: []string{"text:hi", "close:1001"},
		},
		{
			name:         "agent: new message inside a fragmented one",
			fromAgent:    []fr{{0x01, ("key " + phLead)[:hp]}, {0x81, ("key " + phLead)[hp:]}},
			wantAgent:    []string{"close:1002"},
			wantUpstream: []string{"close:1001"},
		},
		{
			name:         "agent: fragmented ping",
			fromAgent:    []fr{{0x09, "p"}},
			wantAgent:    []string{"close:1002"},
			wantUpstream: []string{"close:1001"},
		},
		{
			name:         "agent: ping of 126 bytes",
			fromAgent:    []fr{{0x89, strings.Repeat("p", 126)}},
			wantAgent:    []string{"close:1002"},
			wantUpstream: []string{"close:1001"},
		},
		{
			name:         "agent: reserved opcode",
			fromAgent:    []fr{{0x83, "key " + phLead}},
			wantAgent:    []string{"close:1002"},
			wantUpstream: []string{"close:1001"},
		},
		{
			name:         "control: agent pings between fragments",
			fromAgent:    []fr{{0x01, ("key " + phLead)[:hp]}, {0x89, "p"}, {0x80, ("key " + phLead)[hp:]}, {0x88, "\x03\xe8"}},
			wantAgent:    nil,
			wantUpstream: []string{"ping:p", "text:key " + realKey, "close:1000"},
		},
		{
			name:         "upstream: continuation first",
			fromUpstream: []fr{{0x80, realKey}},
			wantAgent:    []string{"close:1014"},
			wantUpstream: []string{"close:1002"},
		},
		{
			name:         "upstream: continuation after a message",
			fromUpstream: []fr{{0x81, "a " + realKey[:half]}, {0x80, realKey[half:]}},
			wantAgent:    []string{"close:1014"},
			wantUpstream: []string{"close:1002"},
		},
		{
			name:         "upstream: new message inside a fragmented one",
			fromUpstream: []fr{{0x01, "a " + realKey[:half]}, {0x81, realKey[half:]}},
			wantAgent:    []string{"close:1014"},
			wantUpstream: []string{"close:1002"},
		},
		{
			name:         "upstream: fragmented ping",
			fromUpstream: []fr{{0x09, realKey}},
			wantAgent:    []string{"close:1014"},
			wantUpstream: []string{"close:1002"},
		},
		{
			name:         "upstream: reserved opcode",
			fromUpstream: []fr{{0x83, realKey}},
			wantAgent:    []string{"close:1014"},
			wantUpstream: []string{"close:1002"},
		},
		{
			name:         "control: upstream pings between fragments",
			fromUpstream: []fr{{0x01, "a " + realKey[:half]}, {0x89, "p"}, {0x80, realKey[half:]}, {0x88, "\x03\xe8"}},
			wantAgent:    []string{"ping:p", "text:a " + phLead, "close:1000"},
			wantUpstream: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan string, 16)
			e := startWith(t, true, "auth = \"\"\nsurfaces = [\"header\", \"websocket\"]", "", wsScripted(wire(false, tt.fromUpstream...), got))
			tc, br := wsDial(t, e)
			tc.Write(wire(true, tt.fromAgent...))
			agent, err := agentGets(br)
			tc.Close() // so upstream's side ends even if the relay went on
			if err != io.EOF || fmt.Sprint(agent) != fmt.Sprint(tt.wantAgent) {
				t.Errorf("the agent got %q, then %v; want %q, then EOF", agent, err, tt.wantAgent)
			}
			if up := upstreamGets(got); fmt.Sprint(up) != fmt.Sprint(tt.wantUpstream) {
				t.Errorf("upstream got %q, want %q", up, tt.wantUpstream)
			}
		})
	}
}
