package proxy

import (
	"bufio"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/testutil/sockpair"
)

// TestPassSocketResults: passSocket says honestly what happened: nothing
// sent for a connection that cannot travel (the caller relays), a
// sendError when agent-vault's socket takes nothing (the client is still
// pipelock's to answer), and in neither case a record marked handed over.
func TestPassSocketResults(t *testing.T) {
	p := startProxy(t, "[[client]]\nname = \"lead\"\nuids = [{{UID}}]\ndomains = [\"api.example.com\"]\n", nil)
	who := caller{name: "lead", uid: me, known: true}
	tcpClient := func(t *testing.T) net.Conn {
		_, server := sockpair.TCP(t)
		return server
	}
	// vault is a connection to agent-vault's socket; closed, its peer has
	// gone away before anything is sent.
	vault := func(t *testing.T, closed bool) net.Conn {
		vc, peer := sockpair.Unix(t)
		if closed {
			peer.Close()
			// The peer's close is complete once a read sees it.
			vc.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := vc.Read(make([]byte, 1)); err == nil {
				t.Fatal("read from a closed peer succeeded")
			}
		}
		return vc
	}
	pipe, other := net.Pipe()
	t.Cleanup(func() { pipe.Close(); other.Close() })
	for _, tt := range []struct {
		name   string
		client net.Conn
		vc     net.Conn
		want   func(error) bool
	}{
		{"client not a TCP socket", pipe, vault(t, false), func(err error) bool { return errors.Is(err, errCannotPass) }},
		{"vault not a unix socket", tcpClient(t), tcpClient(t), func(err error) bool { return errors.Is(err, errCannotPass) }},
		{"vault gone", tcpClient(t), vault(t, true), func(err error) bool {
			var se sendError
			return errors.As(err, &se) && !errors.Is(err, errCannotPass)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &audit.Record{Event: "connect"}
			br := bufio.NewReader(strings.NewReader(""))
			_, err := p.srv.passSocket(tt.client, br, who, rec, "api.example.com:443", tt.vc)
			if !tt.want(err) {
				t.Errorf("passSocket = %v (%T)", err, err)
			}
			if rec.Event != "connect" || rec.Decision != "" {
				t.Errorf("passSocket marked a connection it did not pass: %+v", rec)
			}
		})
	}
}
