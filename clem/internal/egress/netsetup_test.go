package egress

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Addresses off the host, routed into a veth pair that exists only in the
// test's namespace (documentation ranges: nothing real answers there).
const (
	farV4 = "203.0.113.10"
	farV6 = "2001:db8:2::10"
)

// setupNetwork, called on a netns.Run thread, lets every gid open ICMP
// echo sockets and routes farV4 and farV6 out of a veth pair.
func setupNetwork(t *testing.T) {
	t.Helper()
	// Per namespace: the file is opened by this thread, inside it.
	if err := os.WriteFile("/proc/sys/net/ipv4/ping_group_range", []byte("0 2147483647"), 0); err != nil {
		t.Fatalf("ping_group_range: %v", err)
	}
	for _, args := range [][]string{
		{"link", "add", "eg0", "type", "veth", "peer", "name", "eg1"},
		{"link", "set", "eg0", "up"},
		{"link", "set", "eg1", "up"},
		{"addr", "add", "192.0.2.1/24", "dev", "eg0"},
		{"route", "add", "203.0.113.0/24", "dev", "eg0"},
		{"-6", "addr", "add", "2001:db8:1::1/64", "dev", "eg0", "nodad"},
		{"-6", "route", "add", "2001:db8:2::/64", "dev", "eg0"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// listenTCP serves addr in the current namespace: each connection gets
// label and a newline, so a probe can tell where it landed.
func listenTCP(t *testing.T, addr, label string) {
	t.Helper()
	listenGreeting(t, addr, func(net.Conn) string { return label })
}

// listenGreeting serves addr, greeting each connection with greet(c).
func listenGreeting(t *testing.T, addr string, greet func(net.Conn) string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(greet(c) + "\n"))
			go func() { defer c.Close(); bufio.NewReader(c).ReadByte() }()
		}
	}()
}

// listenUDP answers every datagram on addr with label.
func listenUDP(t *testing.T, addr, label string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("listen udp %s: %v", addr, err)
	}
	t.Cleanup(func() { pc.Close() })
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
