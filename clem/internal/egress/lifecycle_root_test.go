package egress

import (
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/clemhq/clem/shared/testutil/netns"
	"github.com/clemhq/clem/shared/testutil/users"

	"github.com/clemhq/clem/shared/nsthread"
)

// listenTransparent stands in for pipelock's transparent listener: it
// tells each client the original destination the redirect preserved.
func listenTransparent(t *testing.T, addr string) {
	t.Helper()
	listenGreeting(t, addr, func(c net.Conn) string { return "transparent from " + originalDst(c) })
}

// originalDst reads SO_ORIGINAL_DST (a sockaddr_in) from conntrack.
func originalDst(c net.Conn) string {
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return err.Error()
	}
	var mreq *unix.IPv6Mreq
	var gerr error
	raw.Control(func(fd uintptr) {
		// 20 bytes, enough for the 16-byte sockaddr_in.
		mreq, gerr = unix.GetsockoptIPv6Mreq(int(fd), unix.SOL_IP, unix.SO_ORIGINAL_DST)
	})
	if gerr != nil {
		return "no original destination: " + gerr.Error()
	}
	b := mreq.Multiaddr
	return fmt.Sprintf("%d.%d.%d.%d:%d", b[4], b[5], b[6], b[7], int(b[2])<<8|int(b[3]))
}

// TestTransparent: a transparent agent's TCP 80 and 443 to anywhere land on
// the transparent listener with the original destination intact; nothing
// else of its traffic does, and another agent is not redirected.
func TestTransparent(t *testing.T) {
	alice, bob := users.Add(t, "egta"), users.Add(t, "egtb")
	exe := users.ExportTestBinary(t)
	s := Spec{Table: "clem_transparent", ProxyPort: proxyPort, TransparentPort: transparentPort, Agents: []Agent{
		{Name: "alice", UID: alice.UID, Transparent: true},
		{Name: "bob", UID: bob.UID},
	}}
	tests := []struct {
		name       string
		p          probe
		alice, bob string
	}{
		{"https off the host", probe{Proto: "tcp", Addr: farV4 + ":443"}, "ok:transparent from " + farV4 + ":443", "ECONNREFUSED"},
		{"http off the host", probe{Proto: "tcp", Addr: farV4 + ":80"}, "ok:transparent from " + farV4 + ":80", "ECONNREFUSED"},
		{"another port off the host", probe{Proto: "tcp", Addr: farV4 + ":22"}, "ECONNREFUSED", "ECONNREFUSED"},
		{"https over IPv6 (not redirected)", probe{Proto: "tcp", Addr: "[" + farV6 + "]:443"}, "ECONNREFUSED", "ECONNREFUSED"},
		{"transparent port dialled directly", probe{Proto: "tcp", Addr: fmt.Sprint("127.0.0.1:", transparentPort)}, "ECONNREFUSED", "ECONNREFUSED"},
		{"proxy", probe{Proto: "tcp", Addr: fmt.Sprint("127.0.0.1:", proxyPort)}, "ok:proxy", "ok:proxy"},
		{"dns off the host", probe{Proto: "udp", Addr: farV4 + ":53"}, "EPERM", "EPERM"},
	}
	netns.Run(t, func() {
		setupNetwork(t)
		listenTCP(t, fmt.Sprint("127.0.0.1:", proxyPort), "proxy")
		listenTransparent(t, fmt.Sprint("127.0.0.1:", transparentPort))
		if err := Apply(s); err != nil {
			t.Fatal(err)
		}
		var ps []probe
		for _, tt := range tests {
			ps = append(ps, tt.p)
		}
		got := map[string]map[probe]string{"alice": runProbes(t, exe, alice, ps), "bob": runProbes(t, exe, bob, ps)}
		for _, tt := range tests {
			for who, want := range map[string]string{"alice": tt.alice, "bob": tt.bob} {
				if g := got[who][tt.p]; g != want {
					t.Errorf("%s: %s as %s = %q, want %q", tt.name, tt.p, who, g, want)
				}
			}
		}
		if err := Verify(s); err != nil {
			t.Errorf("Verify: %v", err)
		}
	})
}

// TestApplyReplaces: Apply is idempotent, replaces a changed spec whole,
// and an agent hammering a forbidden port while the table is replaced over
// and over never gets through (no moment without rules).
func TestApplyReplaces(t *testing.T) {
	alice := users.Add(t, "egaa")
	exe := users.ExportTestBinary(t)
	s1 := Spec{Table: "clem_replace", ProxyPort: proxyPort, Agents: []Agent{{Name: "alice", UID: alice.UID, MCPPorts: []int{aliceMCP}}}}
	s2 := Spec{Table: "clem_replace", ProxyPort: proxyPort + 100, TransparentPort: transparentPort, Agents: []Agent{
		{Name: "alice", UID: alice.UID, MCPPorts: []int{bobMCP}, Transparent: true},
		{Name: "bob", UID: alice.UID + 1},
	}}
	netns.Run(t, func() {
		listenTCP(t, fmt.Sprint("127.0.0.1:", otherPort), "other")
		for range 2 {
			if err := Apply(s1); err != nil {
				t.Fatal(err)
			}
		}
		if err := Verify(s1); err != nil {
			t.Errorf("Verify after applying twice: %v", err)
		}
		if err := Apply(s2); err != nil {
			t.Fatal(err)
		}
		if err := Verify(s2); err != nil {
			t.Errorf("Verify of the new spec: %v", err)
		}
		if err := Verify(s1); err == nil {
			t.Error("Verify of the replaced spec = nil, want differences")
		}
		bad := s2
		bad.ProxyPort = 0
		if err := Apply(bad); err == nil || !strings.Contains(err.Error(), "proxy_port 0") {
			t.Errorf("Apply(invalid spec) = %v, want a proxy_port error", err)
		}
		if err := Verify(s2); err != nil {
			t.Errorf("an invalid spec changed the table: %v", err)
		}

		cmd := asUser(exe, alice, loopEnv+"="+fmt.Sprint("127.0.0.1:", otherPort))
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for i := range 60 {
			if err := Apply([]Spec{s1, s2}[i%2]); err != nil {
				t.Error(err)
				break
			}
		}
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("dialing loop as alice: %v", err)
		}
		var attempts, connected int
		if _, err := fmt.Sscan(out.String(), &attempts, &connected); err != nil || attempts == 0 {
			t.Fatalf("dialing loop printed %q", out.String())
		}
		t.Logf("%d dials while the table was replaced 60 times", attempts)
		if connected != 0 {
			t.Errorf("%d of %d dials to a forbidden port connected while the table was being replaced", connected, attempts)
		}
	})
}

// TestDeleteAndExists: Delete removes only its own table and is idempotent.
func TestDeleteAndExists(t *testing.T) {
	a, b := testSpec("clem_one"), testSpec("clem_two")
	b.ProxyPort, b.TransparentPort = 4128, 4129
	netns.Run(t, func() {
		if ok, err := exists(a.Table); err != nil || ok {
			t.Fatalf("Exists before Apply = %v, %v; want false, nil", ok, err)
		}
		if err := Delete(a.Table); err != nil {
			t.Errorf("Delete of a missing table: %v", err)
		}
		for _, s := range []Spec{a, b} {
			if err := Apply(s); err != nil {
				t.Fatal(err)
			}
		}
		if ok, err := exists(a.Table); err != nil || !ok {
			t.Fatalf("Exists after Apply = %v, %v; want true, nil", ok, err)
		}
		if err := Delete(a.Table); err != nil {
			t.Fatal(err)
		}
		if ok, err := exists(a.Table); err != nil || ok {
			t.Errorf("Exists after Delete = %v, %v; want false, nil", ok, err)
		}
		if err := Verify(a); err == nil || !strings.Contains(err.Error(), "table inet clem_one is missing") {
			t.Errorf("Verify after Delete = %v, want missing table", err)
		}
		if err := Verify(b); err != nil {
			t.Errorf("the other project's table after Delete: %v", err)
		}
		if err := Delete(a.Table); err != nil {
			t.Errorf("second Delete: %v", err)
		}
		if err := Delete("filter"); err == nil {
			t.Error("Delete(\"filter\") = nil, want a refusal: not a clem table")
		}
	})
}

// TestConcurrent: provision applies and verifies several projects at once.
func TestConcurrent(t *testing.T) {
	netns.Run(t, func() {
		ns, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			t.Fatal(err)
		}
		defer ns.Close()
		var st unix.Stat_t
		if err := unix.Fstat(int(ns.Fd()), &st); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- inNamespace(ns, st.Ino, func() error {
					s := testSpec(fmt.Sprintf("clem_c%d", i))
					s.ProxyPort, s.TransparentPort = 5000+100*i, 5001+100*i
					for range 3 {
						if err := Apply(s); err != nil {
							return err
						}
						if err := Verify(s); err != nil {
							return err
						}
					}
					return nil
				})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})
}

// inNamespace runs f on a thread moved into ns (whose inode is ino), and
// refuses to run it anywhere else: f must never touch the host's rules.
func inNamespace(ns *os.File, ino uint64, f func() error) error {
	var err error
	nsthread.Do(func() {
		if e := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); e != nil {
			err = fmt.Errorf("setns: %w", e)
			return
		}
		var st unix.Stat_t
		if e := unix.Stat("/proc/thread-self/ns/net", &st); e != nil || st.Ino != ino {
			err = fmt.Errorf("thread not in the test namespace after setns (%v)", e)
			return
		}
		err = f()
	})
	return err
}

// exists reports whether the inet table exists (tests only).
func exists(table string) (bool, error) {
	c, err := dial()
	if err != nil {
		return false, fmt.Errorf("egress: look up table inet %s: %w", table, err)
	}
	defer c.Close()
	attrs, err := getTable(c, table)
	if err != nil {
		return false, fmt.Errorf("egress: look up table inet %s: %w", table, err)
	}
	return attrs != nil, nil
}
