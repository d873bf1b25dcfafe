package egress

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/testutil/netns"
	"github.com/clemhq/clem/shared/testutil/users"
)

const (
	proxyPort       = 3128
	transparentPort = 3129
	aliceMCP        = 3130
	aliceMCP2       = 3133
	bobMCP          = 3131
	otherPort       = 8080
)

func twoAgents(table string, alice, bob users.User) Spec {
	return Spec{Table: table, ProxyPort: proxyPort, TransparentPort: transparentPort, Agents: []Agent{
		{Name: "alice", UID: alice.UID, MCPPorts: []int{aliceMCP2, aliceMCP}},
		{Name: "bob", UID: bob.UID, MCPPorts: []int{bobMCP}},
	}}
}

// serveLoopback starts the listeners the probes aim at.
func serveLoopback(t *testing.T) {
	for _, l := range []struct{ addr, label string }{
		{fmt.Sprint("127.0.0.1:", proxyPort), "proxy"},
		{fmt.Sprint("127.0.0.2:", proxyPort), "proxy on 127.0.0.2"},
		{fmt.Sprint("[::1]:", proxyPort), "proxy on ::1"},
		{fmt.Sprint("127.0.0.1:", transparentPort), "transparent"},
		{fmt.Sprint("127.0.0.1:", aliceMCP), "alice mcp"},
		{fmt.Sprint("127.0.0.1:", aliceMCP2), "alice mcp 2"},
		{fmt.Sprint("127.0.0.1:", bobMCP), "bob mcp"},
		{fmt.Sprint("127.0.0.1:", otherPort), "other"},
		{fmt.Sprint("192.0.2.1:", otherPort), "other on 192.0.2.1"},
	} {
		listenTCP(t, l.addr, l.label)
	}
	for _, l := range []struct{ addr, label string }{
		{"127.0.0.1:53", "dns"}, {"127.0.0.1:5353", "udp"}, {"[::1]:5353", "udp6"},
	} {
		listenUDP(t, l.addr, l.label)
	}
}

// TestPinning applies a table for two agents and has each agent's real uid,
// and a third uncontained uid, try every kind of traffic.
func TestPinning(t *testing.T) {
	alice, bob, carol := users.Add(t, "egra"), users.Add(t, "egrb"), users.Add(t, "egrc")
	exe := users.ExportTestBinary(t)
	const refusedTCP, refusedOther = "ECONNREFUSED", "EPERM"
	tests := []struct {
		name              string
		p                 probe
		alice, bob, carol string // "" = not probed (carol's packet would leave into the void)
	}{
		{"proxy", probe{Proto: "tcp", Addr: fmt.Sprint("127.0.0.1:", proxyPort)}, "ok:proxy", "ok:proxy", "ok:proxy"},
		{"alice's mcp", probe{Proto: "tcp", Addr: fmt.Sprint("127.0.0.1:", aliceMCP)}, "ok:alice mcp", refusedTCP, "ok:alice mcp"},
		{"alice's second mcp", probe{Proto: "tcp", Addr: fmt.Sprint("127.0.0.1:", aliceMCP2)}, "ok:alice mcp 2", refusedTCP, "ok:alice mcp 2"},
		{"bob's mcp", probe{Proto: "tcp", Addr: fmt.Sprint("127.0.0.1:", bobMCP)}, refusedTCP, "ok:bob mcp", "ok:bob mcp"},
		{"other loopback port", probe{Proto: "tcp", Addr: fmt.Sprint("127.0.0.1:", otherPort)}, refusedTCP, refusedTCP, "ok:other"},
		{"transparent port, not redirected", probe{Proto: "tcp", Addr: fmt.Sprint("127.0.0.1:", transparentPort)}, refusedTCP, refusedTCP, "ok:transparent"},
		{"proxy port on 127.0.0.2", probe{Proto: "tcp", Addr: fmt.Sprint("127.0.0.2:", proxyPort)}, refusedTCP, refusedTCP, "ok:proxy on 127.0.0.2"},
		{"proxy port on ::1", probe{Proto: "tcp", Addr: fmt.Sprint("[::1]:", proxyPort)}, refusedTCP, refusedTCP, "ok:proxy on ::1"},
		{"host's own non-loopback address", probe{Proto: "tcp", Addr: fmt.Sprint("192.0.2.1:", otherPort)}, refusedTCP, refusedTCP, "ok:other on 192.0.2.1"},
		{"tcp off the host", probe{Proto: "tcp", Addr: farV4 + ":443"}, refusedTCP, refusedTCP, ""},
		{"tcp6 off the host", probe{Proto: "tcp", Addr: "[" + farV6 + "]:443"}, refusedTCP, refusedTCP, ""},
		{"udp 53 on loopback", probe{Proto: "udp", Addr: "127.0.0.1:53"}, refusedOther, refusedOther, "ok:dns"},
		{"udp on loopback", probe{Proto: "udp", Addr: "127.0.0.1:5353"}, refusedOther, refusedOther, "ok:udp"},
		{"udp on ::1", probe{Proto: "udp", Addr: "[::1]:5353"}, refusedOther, refusedOther, "ok:udp6"},
		{"udp 53 off the host", probe{Proto: "udp", Addr: farV4 + ":53"}, refusedOther, refusedOther, ""},
		{"icmp echo on loopback", probe{Proto: "icmp4", Addr: "127.0.0.1"}, refusedOther, refusedOther, "ok:echo reply"},
		// The ping socket reads back the admin-prohibited error the rule sent.
		{"icmpv6 echo on ::1", probe{Proto: "icmp6", Addr: "::1"}, "EACCES", "EACCES", "ok:echo reply"},
		{"icmp echo off the host", probe{Proto: "icmp4", Addr: farV4}, refusedOther, refusedOther, ""},
	}
	netns.Run(t, func() {
		setupNetwork(t)
		serveLoopback(t)
		s := twoAgents("clem_pin", alice, bob)
		if err := Apply(s); err != nil {
			t.Fatal(err)
		}
		var all, local []probe
		for _, tt := range tests {
			all = append(all, tt.p)
			if tt.carol != "" {
				local = append(local, tt.p)
			}
		}
		got := map[string]map[probe]string{
			"alice": runProbes(t, exe, alice, all),
			"bob":   runProbes(t, exe, bob, all),
			"carol": runProbes(t, exe, carol, local),
		}
		for _, tt := range tests {
			for who, want := range map[string]string{"alice": tt.alice, "bob": tt.bob, "carol": tt.carol} {
				if want == "" {
					continue
				}
				if g := got[who][tt.p]; g != want {
					t.Errorf("%s: %s as %s = %q, want %q", tt.name, tt.p, who, g, want)
				}
			}
		}

		// Replies of a connection the agent accepted pass, on loopback.
		for _, u := range []users.User{alice, bob} {
			if got := serveAs(t, exe, u); got != "echo:hello" {
				t.Errorf("connection to a server run by %s: got %q, want echo:hello", u.Name, got)
			}
		}
	})
}

// serveAs starts a one-shot echo server as u, connects to it as root and
// returns what came back.
func serveAs(t *testing.T, exe string, u users.User) string {
	t.Helper()
	cmd := asUser(exe, u, serveEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start server as %s: %v", u.Name, err)
	}
	defer cmd.Wait()
	r := bufio.NewReader(out)
	port, err := r.ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("server as %s: %v", u.Name, err)
	}
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strings.TrimSpace(port), 3*time.Second)
	if err != nil {
		cmd.Process.Kill()
		return "dial: " + errWord(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "hello\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "read: " + errWord(err)
	}
	return strings.TrimSpace(line)
}
