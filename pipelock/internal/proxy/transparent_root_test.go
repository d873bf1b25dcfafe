package proxy

import (
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/clemhq/clem/pipelock/internal/config"
	"github.com/clemhq/clem/shared/audit"
	"github.com/clemhq/clem/shared/peer"
	"github.com/clemhq/clem/shared/testutil/netns"
	"github.com/clemhq/clem/shared/testutil/users"
)

// redirectUser installs, in the current thread's network namespace, an
// nftables nat rule sending uid's TCP to port 443 to 127.0.0.1:to.
func redirectUser(t *testing.T, uid uint32, to uint16) {
	t.Helper()
	ns, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(ns.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	tbl := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "pipelock_test"})
	ch := c.AddChain(&nftables.Chain{Name: "out", Table: tbl, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest})
	c.AddRule(&nftables.Rule{Table: tbl, Chain: ch, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeySKUID, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(uid)},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(443)},
		&expr.Immediate{Register: 1, Data: binaryutil.BigEndian.PutUint16(to)},
		&expr.Redir{RegisterProtoMin: 1},
	}})
	if err := c.Flush(); err != nil {
		t.Fatalf("install the redirect rule: %v", err)
	}
}

// TestTransparentRedirect: a real user's curl aimed straight at an address
// (no proxy settings) is redirected by a real nftables rule to the
// transparent listener, identified by its uid from the kernel, judged by
// the TLS SNI, and refused or allowed by that user's policy.
func TestTransparentRedirect(t *testing.T) {
	u := users.Add(t, "plkt")
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "via transparent") }))
	defer up.Close()
	dir, _ := os.MkdirTemp("", "pipelock-tproxy-")
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw}), 0o644)

	netns.Run(t, func() {
		res, err := peer.NewResolver()
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		cfg, err := config.Parse("t.toml", []byte(fmt.Sprintf("[listen]\nproxy = \"127.0.0.1:1\"\n%s[[client]]\nname = \"tuser\"\nuids = [%d]\ndomains = [\"example.com\"]\n", override("example.com", 443, up), u.UID)))
		if err != nil {
			t.Fatal(err)
		}
		p := serveTest(t, cfg, Options{Identify: identifyWith(res)}, true)
		redirectUser(t, u.UID, uint16(netip.MustParseAddrPort(p.addr).Port()))

		curl := func(host string) (string, int) {
			// No proxy: curl connects to 127.0.0.2:443 itself; the kernel redirects.
			cmd := exec.Command("curl", "-sS", "--max-time", "10", "--cacert", ca, "--resolve", host+":443:127.0.0.2", "https://"+host+"/")
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID}}
			cmd.Env = []string{"PATH=/usr/bin:/bin"}
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); ok {
				return string(out), ee.ExitCode()
			}
			return string(out), 0
		}
		if out, code := curl("example.com"); code != 0 || out != "via transparent" {
			t.Errorf("allowed host: curl exit %d %q", code, out)
		}
		r := p.record("example.com:443")
		if r.Client != "tuser" || r.UID == nil || *r.UID != u.UID || r.Decision != audit.Allow || r.SNI != "example.com" {
			t.Errorf("record = %+v", r)
		}
		if out, code := curl("www.example.com"); code == 0 {
			t.Errorf("host off the list: curl succeeded: %q", out)
		}
		r = p.record("www.example.com:443")
		if r.Decision != audit.Deny || !strings.Contains(r.Reason, "not on tuser's allow-list") {
			t.Errorf("record = %+v", r)
		}
	})
}
