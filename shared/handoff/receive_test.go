package handoff

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// readRequestCases are ReadRequest's table, and the fuzz target's seeds.
var readRequestCases = []struct {
	name string
	raw  string
	fd   bool
	want Request // compared without uidErr
	uid  bool    // AgentUID succeeds
	err  string  // "" for success; ErrNotConnect's text, or a substring
	rest string  // what is left in the reader after it
}{
	{"relayed", "CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\nClem-Agent: lead\r\nClem-Agent-Uid: 1001\r\nClem-Conn-Id: c1\r\n\r\nhello",
		false, Request{Target: "api.example.com:443", Agent: "lead", UID: 1001, ConnID: "c1"}, true, "", "hello"},
	{"descriptor with bytes", "CONNECT api.example.com:443 HTTP/1.1\r\nClem-Agent: lead\r\nClem-Agent-Uid: 1001\r\nClem-Fd: 1\r\nClem-Buffered: 5\r\n\r\nhello world",
		true, Request{Target: "api.example.com:443", Agent: "lead", UID: 1001, FD: true, Buffered: []byte("hello")}, true, "", " world"},
	{"descriptor without a count", "CONNECT a.example:443 HTTP/1.1\r\nClem-Fd: 1\r\nClem-Agent-Uid: 7\r\n\r\n",
		true, Request{Target: "a.example:443", UID: 7, FD: true}, true, "", ""},
	{"direct client names no uid", "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
		false, Request{Target: "a.example:443"}, false, "", ""},
	{"negative uid", "CONNECT a.example:443 HTTP/1.1\r\nClem-Agent-Uid: -1\r\n\r\n", false, Request{Target: "a.example:443"}, false, "", ""},
	{"uid over 32 bits", "CONNECT a.example:443 HTTP/1.1\r\nClem-Agent-Uid: 4294967296\r\n\r\n", false, Request{Target: "a.example:443"}, false, "", ""},
	{"not a CONNECT", "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n", false, Request{}, false, ErrNotConnect.Error(), ""},
	{"descriptor header, no descriptor", "CONNECT a.example:443 HTTP/1.1\r\nClem-Fd: 1\r\n\r\n", false, Request{}, false, ErrNotConnect.Error(), ""},
	{"descriptor, no header", "CONNECT a.example:443 HTTP/1.1\r\n\r\n", true, Request{}, false, ErrNotConnect.Error(), ""},
	{"descriptor header not 1", "CONNECT a.example:443 HTTP/1.1\r\nClem-Fd: yes\r\n\r\n", true, Request{}, false, ErrNotConnect.Error(), ""},
	{"garbage", "\x16\x03\x01\x02\x00", false, Request{}, false, ErrNotConnect.Error(), ""},
	{"empty", "", false, Request{}, false, ErrNotConnect.Error(), ""},
	{"short of the count", "CONNECT a.example:443 HTTP/1.1\r\nClem-Fd: 1\r\nClem-Buffered: 5\r\n\r\nhey", true, Request{}, false, "reading 5 handed-over bytes", ""},
	{"negative count", "CONNECT a.example:443 HTTP/1.1\r\nClem-Fd: 1\r\nClem-Buffered: -1\r\n\r\n", true, Request{}, false, `Clem-Buffered "-1": want 0 to 65536`, ""},
	{"count over the bound", "CONNECT a.example:443 HTTP/1.1\r\nClem-Fd: 1\r\nClem-Buffered: 70000\r\n\r\n", true, Request{}, false, `Clem-Buffered "70000": want 0 to 65536`, ""},
	{"count not a number", "CONNECT a.example:443 HTTP/1.1\r\nClem-Fd: 1\r\nClem-Buffered: x\r\n\r\n", true, Request{}, false, `Clem-Buffered "x"`, ""},
	{"header block over the bound", "CONNECT a.example:443 HTTP/1.1\r\nX: " + strings.Repeat("a", MaxHeader+MaxBuffered) + "\r\n\r\n", false, Request{}, false, ErrNotConnect.Error(), ""},
}

func TestReadRequest(t *testing.T) {
	for _, tt := range readRequestCases {
		t.Run(tt.name, func(t *testing.T) {
			br := NewReader(nil, strings.NewReader(tt.raw))
			got, err := ReadRequest(br, tt.fd)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ReadRequest(%q, %v) = %+v, %v; want error %q", tt.raw, tt.fd, got, err, tt.err)
				}
				if tt.err == ErrNotConnect.Error() && !errors.Is(err, ErrNotConnect) {
					t.Errorf("ReadRequest(%q) error %v is not ErrNotConnect", tt.raw, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadRequest(%q, %v): %v", tt.raw, tt.fd, err)
			}
			uid, uerr := got.AgentUID()
			if (uerr == nil) != tt.uid || tt.uid && uid != tt.want.UID {
				t.Errorf("AgentUID() = %d, %v; want %d, ok %v", uid, uerr, tt.want.UID, tt.uid)
			}
			got.uidErr = nil
			if got.Target != tt.want.Target || got.Agent != tt.want.Agent || got.UID != tt.want.UID || got.ConnID != tt.want.ConnID ||
				got.FD != tt.want.FD || !bytes.Equal(got.Buffered, tt.want.Buffered) {
				t.Errorf("ReadRequest(%q, %v) = %+v, want %+v", tt.raw, tt.fd, got, tt.want)
			}
			if rest, _ := io.ReadAll(br); string(rest) != tt.rest {
				t.Errorf("after ReadRequest(%q) the reader holds %q, want %q", tt.raw, rest, tt.rest)
			}
		})
	}
}

// TestNewReaderFirstThenRest: the bytes ReceiveSocket read come before the
// stream's, and nothing past the bound is read.
func TestNewReaderFirstThenRest(t *testing.T) {
	br := NewReader([]byte("CONNECT a.example:443 HTTP/1.1\r\nClem-Agent"), strings.NewReader("-Uid: 5\r\n\r\nafter"))
	r, err := ReadRequest(br, false)
	if uid, uerr := r.AgentUID(); err != nil || r.Target != "a.example:443" || uid != 5 || uerr != nil {
		t.Fatalf("ReadRequest over first and rest = %+v, %v", r, err)
	}
	if rest, _ := io.ReadAll(br); string(rest) != "after" {
		t.Errorf("rest = %q, want %q", rest, "after")
	}
	all, _ := io.ReadAll(NewReader([]byte("ab"), strings.NewReader(strings.Repeat("x", 2*(MaxHeader+MaxBuffered)))))
	if len(all) != MaxHeader+MaxBuffered {
		t.Errorf("NewReader gave %d bytes, want at most %d", len(all), MaxHeader+MaxBuffered)
	}
}
