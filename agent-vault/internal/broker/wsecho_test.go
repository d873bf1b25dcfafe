package broker

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// wsEchoSecret upgrades, echoing Sec-WebSocket-Protocol (where the agent's
// placeholder became the real key) in a 103 and in the 101, then answers
// each text message by sending the key back in the way it names.
func wsEchoSecret(got chan<- string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Sec-WebSocket-Protocol")
		got <- key
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(c, "HTTP/1.1 103 Early Hints\r\nLink: <%s>\r\n\r\n", key)
		fmt.Fprintf(c, "HTTP/1.1 101 %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: %s\r\nX-%x: 1\r\n\r\n",
			key, wsAccept(r.Header.Get("Sec-WebSocket-Key")), key, key)
		half := len(key) / 2
		messages(brw, func(op byte, msg []byte) error {
			switch string(msg) {
			case "ping":
				return writeFrame(c, frame{fin: true, op: 0x9, payload: []byte(key)}, false)
			case "pong":
				return writeFrame(c, frame{fin: true, op: 0xA, payload: []byte(key)}, false)
			case "close":
				return writeFrame(c, frame{fin: true, op: opClose, payload: append([]byte{0x03, 0xe8}, key...)}, false)
			case "frames":
				if err := writeFrame(c, frame{fin: false, op: opText, payload: []byte(key[:half])}, false); err != nil {
					return err
				}
				return writeFrame(c, frame{fin: true, op: opContinuation, payload: []byte(key[half:])}, false)
			case "messages":
				if err := writeFrame(c, frame{fin: true, op: opText, payload: []byte("a " + key[:half])}, false); err != nil {
					return err
				}
				return writeFrame(c, frame{fin: true, op: opBinary, payload: []byte(key[half:] + " b")}, false)
			case "compressed":
				return writeFrame(c, frame{fin: true, rsv: 0x40, op: opText, payload: []byte("deflated bytes")}, false)
			}
			return nil
		}, func(f frame) error { return nil })
	}
}

// wsOpen does the handshake with the placeholder as the subprotocol and
// returns the raw 101 the agent got.
func wsOpen(t *testing.T, e *env) (*tls.Conn, *bufio.Reader, string) {
	t.Helper()
	tc, br := tunnelTo(t, e)
	fmt.Fprintf(tc, "GET /ws HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n", phLead)
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("handshake: %v (read %q)", err, head.String())
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
	}
	if !strings.HasPrefix(head.String(), "HTTP/1.1 101 ") || !strings.Contains(head.String(), "Sec-Websocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") {
		t.Fatalf("handshake answer: %q", head.String())
	}
	return tc, br, head.String()
}

// TestWebSocketEchoesScrubbed: the key echoed in the 101's status line,
// header names and values (the echoed subprotocol), a 103 before it, ping,
// pong and close payloads, and a message split over two frames or two
// messages never reaches the agent.
func TestWebSocketEchoesScrubbed(t *testing.T) {
	got := make(chan string, 16)
	e := startWith(t, true, "auth = \"\"\nsurfaces = [\"header\", \"websocket\"]", "", wsEchoSecret(got))
	hexKey := strings.ToLower(fmt.Sprintf("%x", realKey))
	noKey := func(t *testing.T, what, s string) {
		t.Helper()
		if strings.Contains(s, realKey) || strings.Contains(strings.ToLower(s), hexKey) {
			t.Fatalf("%s carries the key: %q", what, s)
		}
	}
	tc, br, head := wsOpen(t, e)
	if k := <-got; k != realKey {
		t.Fatalf("upstream got subprotocol %q, not the key: the echo would show nothing", k)
	}
	noKey(t, "the 101", head)
	if !strings.Contains(head, "Sec-Websocket-Protocol: "+phLead) {
		t.Errorf("the echoed subprotocol should come back as the placeholder: %q", head)
	}
	for _, tt := range []struct {
		send string
		ops  []byte
	}{
		{"ping", []byte{0x9}},
		{"pong", []byte{0xA}},
		{"frames", []byte{opText}},
		{"messages", []byte{opText, opBinary}},
		{"close", []byte{opClose}},
	} {
		if err := writeFrame(tc, frame{fin: true, op: opText, payload: []byte(tt.send)}, true); err != nil {
			t.Fatal(err)
		}
		var joined []byte
		for _, op := range tt.ops {
			f, err := readFrame(br)
			if err != nil {
				t.Fatalf("%s: %v", tt.send, err)
			}
			if f.op != op {
				t.Fatalf("%s: opcode %#x, want %#x", tt.send, f.op, op)
			}
			joined = append(joined, f.payload...)
		}
		noKey(t, tt.send, string(joined))
		if !strings.Contains(string(joined), phLead[:20]) {
			t.Errorf("%s: %q lacks the placeholder", tt.send, joined)
		}
	}
}

// TestWebSocketCompressedFrameEnds: a frame with a reserved bit (a
// compressed payload no extension was negotiated for) ends the relay: the
// agent is told with a close (1014 bad gateway), and gets nothing else.
func TestWebSocketCompressedFrameEnds(t *testing.T) {
	got := make(chan string, 16)
	e := startWith(t, true, "auth = \"\"\nsurfaces = [\"header\", \"websocket\"]", "", wsEchoSecret(got))
	tc, br, _ := wsOpen(t, e)
	writeFrame(tc, frame{fin: true, op: opText, payload: []byte("compressed")}, true)
	tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if frames, err := agentGets(br); err != io.EOF || fmt.Sprint(frames) != "[close:1014]" {
		t.Fatalf("after a compressed frame upstream: %q, %v; want a close with 1014, then the connection closed", frames, err)
	}
}
