package egress

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/google/nftables"

	"github.com/clemhq/clem/shared/testutil/netns"
	"github.com/clemhq/clem/shared/testutil/users"
)

// squatMain listens on every probe's address, prints "ready" once all are
// bound, and answers each connection or datagram with "squat <addr>" until
// stdin closes: an agent posing as one of the project's daemons.
func squatMain(arg string) int {
	var ps []probe
	if err := json.Unmarshal([]byte(arg), &ps); err != nil {
		fmt.Println(err)
		return 2
	}
	for _, p := range ps {
		label := "squat " + p.Addr
		switch p.Proto {
		case "tcp":
			ln, err := net.Listen("tcp", p.Addr)
			if err != nil {
				fmt.Println("listen", p, errWord(err))
				return 1
			}
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					io.WriteString(c, label+"\n")
					go func() { defer c.Close(); bufio.NewReader(c).ReadByte() }()
				}
			}()
		case "udp":
			pc, err := net.ListenPacket("udp", p.Addr)
			if err != nil {
				fmt.Println("listen", p, errWord(err))
				return 1
			}
			go func() {
				b := make([]byte, 512)
				for {
					_, from, err := pc.ReadFrom(b)
					if err != nil {
						return
					}
					pc.WriteTo([]byte(label), from)
				}
			}()
		}
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// squatAs starts squatMain as u on ps and returns once every address is
// bound; the squatter stops at the test's end.
func squatAs(t *testing.T, exe string, u users.User, ps []probe) {
	t.Helper()
	arg, _ := json.Marshal(ps)
	cmd := asUser(exe, u, squatEnv+"="+string(arg))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start squatter as %s: %v", u.Name, err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		t.Fatalf("squatter as %s: %q, %v", u.Name, line, err)
	}
}

// root runs probes as an uncontained uid: an operator, or another agent's
// client (which the other agent's rules would let through to pipelock or
// coord).
var root = users.User{Name: "root"}

// deleteRules removes the rules of chain whose comment is listed, as an
// attacker with root would: the control that shows what the rules do.
func deleteRules(t *testing.T, table, chain string, comments ...string) {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rulesOf(t, c, table, chain) {
		for _, want := range comments {
			if r.UserData != nil && strings.Contains(string(r.UserData), want) {
				if err := c.DelRule(r); err != nil {
					t.Fatal(err)
				}
				n++
			}
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if n != len(comments) {
		t.Fatalf("deleted %d rules of %s, want %d", n, chain, len(comments))
	}
}

// TestReservedPorts: an agent that binds ports in the project's block (as
// it could while a daemon restarts) cannot answer anyone from them, over
// TCP or UDP, IPv4 or IPv6; the same agent still serves from ports outside
// the block, and still reaches pipelock as a client from a port inside it.
// Control: with the two new rules deleted, the squatter answers.
func TestReservedPorts(t *testing.T) {
	alice, bob := users.Add(t, "egsa"), users.Add(t, "egsb")
	exe := users.ExportTestBinary(t)
	s := twoAgents("clem_squat", alice, bob) // block 3128-3159
	if r := s.Reserved(); r != (PortRange{proxyPort, proxyPort + 31}) {
		t.Fatalf("Reserved() = %v, want the layout's block from the proxy port", r)
	}
	const timeout = "timeout"
	tests := []struct {
		name   string
		listen probe // as alice
		dial   probe // as root
		want   string
	}{
		{"tcp in the block", probe{Proto: "tcp", Addr: "127.0.0.1:3140"}, probe{Proto: "tcp", Addr: "127.0.0.1:3140"}, timeout},
		{"tcp, last port of the block", probe{Proto: "tcp", Addr: "127.0.0.1:3159"}, probe{Proto: "tcp", Addr: "127.0.0.1:3159"}, timeout},
		{"tcp6 in the block", probe{Proto: "tcp", Addr: "[::1]:3141"}, probe{Proto: "tcp", Addr: "[::1]:3141"}, timeout},
		{"dual-stack socket, reached over IPv4", probe{Proto: "tcp", Addr: "[::]:3142"}, probe{Proto: "tcp", Addr: "127.0.0.1:3142"}, timeout},
		{"udp in the block", probe{Proto: "udp", Addr: "127.0.0.1:3143"}, probe{Proto: "udp", Addr: "127.0.0.1:3143"}, timeout},
		{"udp6 in the block", probe{Proto: "udp", Addr: "[::1]:3144"}, probe{Proto: "udp", Addr: "[::1]:3144"}, timeout},
		{"tcp just past the block (a dev server)", probe{Proto: "tcp", Addr: "127.0.0.1:3160"}, probe{Proto: "tcp", Addr: "127.0.0.1:3160"}, "ok:squat 127.0.0.1:3160"},
		{"tcp6 past the block", probe{Proto: "tcp", Addr: "[::1]:8000"}, probe{Proto: "tcp", Addr: "[::1]:8000"}, "ok:squat [::1]:8000"},
		{"udp past the block", probe{Proto: "udp", Addr: "127.0.0.1:3160"}, probe{Proto: "udp", Addr: "127.0.0.1:3160"}, "ok:squat 127.0.0.1:3160"},
		{"tcp just before the block", probe{Proto: "tcp", Addr: "127.0.0.1:3127"}, probe{Proto: "tcp", Addr: "127.0.0.1:3127"}, "ok:squat 127.0.0.1:3127"},
	}
	netns.Run(t, func() {
		listenTCP(t, fmt.Sprint("127.0.0.1:", proxyPort), "proxy")
		if err := Apply(s); err != nil {
			t.Fatal(err)
		}
		var listens, dials []probe
		for _, tt := range tests {
			listens, dials = append(listens, tt.listen), append(dials, tt.dial)
		}
		squatAs(t, exe, alice, listens)

		got := runProbes(t, exe, root, dials)
		for _, tt := range tests {
			if g := got[tt.dial]; g != tt.want {
				t.Errorf("%s: root dialing alice's %s = %q, want %q", tt.name, tt.dial, g, tt.want)
			}
		}
		// An agent's own connection from a port in the block is a client's
		// (original direction), not an answer: pipelock still takes it. The
		// kernel may pick such a port itself when the block lies in
		// ip_local_port_range.
		from := probe{Proto: "tcp", Addr: fmt.Sprint("127.0.0.1:", proxyPort), From: "127.0.0.1:3150"}
		if g := runProbes(t, exe, alice, []probe{from})[from]; g != "ok:proxy" {
			t.Errorf("alice dialing pipelock from port 3150 = %q, want ok:proxy", g)
		}

		// Control: without the two rules the same squatter answers.
		deleteRules(t, s.Table, "agent_alice", "alice: no tcp answers", "alice: no udp answers")
		got = runProbes(t, exe, root, dials)
		for _, tt := range tests {
			if g := got[tt.dial]; !strings.HasPrefix(g, "ok:squat") {
				t.Errorf("control, %s: root dialing alice's %s without the rules = %q, want the squatter's answer", tt.name, tt.dial, g)
			}
		}
		if err := Verify(s); err == nil || !strings.Contains(err.Error(), `missing rule in chain agent_alice: "alice: no tcp answers from the project's ports"`) {
			t.Errorf("Verify without the rules = %v, want them named missing", err)
		}
	})
}
