package egress

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/clemhq/clem/shared/testutil/netns"
)

func testSpec(table string) Spec {
	return Spec{Table: table, ProxyPort: proxyPort, TransparentPort: transparentPort, Agents: []Agent{
		{Name: "alice", UID: 4001, MCPPorts: []int{aliceMCP, aliceMCP2}, Transparent: true},
		{Name: "bob", UID: 4002, MCPPorts: []int{bobMCP}},
	}}
}

// rulesOf lists a chain's rules through the library, as a tamperer would.
func rulesOf(t *testing.T, c *nftables.Conn, table, chain string) []*nftables.Rule {
	t.Helper()
	tb := &nftables.Table{Family: nftables.TableFamilyINet, Name: table}
	rs, err := c.GetRules(tb, &nftables.Chain{Name: chain, Table: tb})
	if err != nil {
		t.Fatalf("list rules of %s: %v", chain, err)
	}
	return rs
}

// ruleNamed is the chain's rule with that comment.
func ruleNamed(t *testing.T, c *nftables.Conn, table, chain, comment string) *nftables.Rule {
	t.Helper()
	for _, r := range rulesOf(t, c, table, chain) {
		if got, ok := userdata.GetString(r.UserData, userdata.TypeComment); ok && got == comment {
			return r
		}
	}
	t.Fatalf("no rule %q in chain %s", comment, chain)
	return nil
}

// TestVerifyCatchesTampering changes the live table the ways an admin or a
// bug might and checks Verify names each change, and that Apply repairs it.
func TestVerifyCatchesTampering(t *testing.T) {
	const table = "clem_verify"
	tb := &nftables.Table{Family: nftables.TableFamilyINet, Name: table}
	acceptAll := []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}}
	tests := []struct {
		name   string
		tamper func(t *testing.T, c *nftables.Conn)
		want   string
	}{
		{"delete table", func(t *testing.T, c *nftables.Conn) { c.DelTable(tb) },
			"table inet clem_verify is missing"},
		{"flush agent chain", func(t *testing.T, c *nftables.Conn) {
			c.FlushChain(&nftables.Chain{Name: "agent_alice", Table: tb})
		}, `missing rule in chain agent_alice: "alice: reject the rest"`},
		{"flush base chain", func(t *testing.T, c *nftables.Conn) {
			c.FlushChain(&nftables.Chain{Name: "output", Table: tb})
		}, `missing rule in chain output: "agent bob"`},
		{"delete one rule", func(t *testing.T, c *nftables.Conn) {
			if err := c.DelRule(ruleNamed(t, c, table, "agent_bob", "bob: pipelock")); err != nil {
				t.Fatal(err)
			}
		}, `missing rule in chain agent_bob: "bob: pipelock"`},
		{"delete the redirect", func(t *testing.T, c *nftables.Conn) {
			if err := c.DelRule(rulesOf(t, c, table, "nat_output")[0]); err != nil {
				t.Fatal(err)
			}
		}, `missing rule in chain nat_output: "alice: transparent 80"`},
		{"append a rule", func(t *testing.T, c *nftables.Conn) {
			c.AddRule(&nftables.Rule{Table: tb, Chain: &nftables.Chain{Name: "output", Table: tb}, Exprs: acceptAll})
		}, "extra rule in chain output: (handle "},
		{"insert a rule first", func(t *testing.T, c *nftables.Conn) {
			c.InsertRule(&nftables.Rule{Table: tb, Chain: &nftables.Chain{Name: "agent_alice", Table: tb}, Exprs: acceptAll})
		}, "extra rule in chain agent_alice: (handle"},
		{"change a rule", func(t *testing.T, c *nftables.Conn) {
			r := ruleNamed(t, c, table, "agent_alice", "alice: pipelock")
			for i, e := range r.Exprs {
				if cm, ok := e.(*expr.Cmp); ok && len(cm.Data) == 2 {
					r.Exprs[i] = cmpEq([]byte{0x1f, 0x90}) // port 8080
				}
			}
			c.ReplaceRule(r)
		}, `"alice: pipelock" is now [meta nfproto; == 0x02; payload base 1 offset 16 len 4; == 0x7f000001; meta l4proto; == 0x06; payload base 2 offset 2 len 2; == 0x1f90; accept]`},
		{"reorder rules", func(t *testing.T, c *nftables.Conn) {
			r := ruleNamed(t, c, table, "agent_bob", "bob: pipelock")
			if err := c.DelRule(r); err != nil {
				t.Fatal(err)
			}
			c.AddRule(&nftables.Rule{Table: tb, Chain: r.Chain, Exprs: r.Exprs, UserData: r.UserData})
		}, "rules in chain agent_bob are in another order"},
		{"policy drop", func(t *testing.T, c *nftables.Conn) {
			drop := nftables.ChainPolicyDrop
			c.AddChain(&nftables.Chain{Name: "output", Table: tb, Type: nftables.ChainTypeFilter,
				Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter, Policy: &drop})
		}, "chain output: policy is drop, want accept"},
		{"extra chain", func(t *testing.T, c *nftables.Conn) {
			c.AddChain(&nftables.Chain{Name: "early", Table: tb, Type: nftables.ChainTypeFilter,
				Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityRaw})
		}, "extra chain early (hook output priority -300)"},
		{"extra set", func(t *testing.T, c *nftables.Conn) {
			if err := c.AddSet(&nftables.Set{Table: tb, Name: "allowed", KeyType: nftables.TypeIPAddr}, nil); err != nil {
				t.Fatal(err)
			}
		}, `extra set or map "allowed"`},
		{"extra named counter", func(t *testing.T, c *nftables.Conn) {
			c.AddObj(&nftables.CounterObj{Table: tb, Name: "hits"})
		}, "table: use count (chains, sets and other objects) is 5, want 4"},
	}
	netns.Run(t, func() {
		s := testSpec(table)
		for _, tt := range tests {
			if err := Apply(s); err != nil {
				t.Fatal(err)
			}
			if err := Verify(s); err != nil {
				t.Fatalf("%s: Verify before tampering: %v", tt.name, err)
			}
			c, err := nftables.New()
			if err != nil {
				t.Fatal(err)
			}
			tt.tamper(t, c)
			if err := c.Flush(); err != nil {
				t.Fatalf("%s: tamper: %v", tt.name, err)
			}
			err = Verify(s)
			var de *DiffError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: Verify = %v; want a DiffError containing %q", tt.name, err, tt.want)
			} else {
				t.Logf("%s: %v", tt.name, err)
			}
		}

		// Dormant: the rules are all there but none run.
		if err := Apply(s); err != nil {
			t.Fatal(err)
		}
		setDormant(t, table)
		if err := Verify(s); err == nil || !strings.Contains(err.Error(), "dormant") {
			t.Errorf("dormant table: Verify = %v, want an error saying dormant", err)
		}
		if err := Apply(s); err != nil {
			t.Fatal(err)
		}
		if err := Verify(s); err != nil {
			t.Errorf("Verify after Apply repaired the table: %v", err)
		}
	})
}

// setDormant sets the table's dormant flag, which the library cannot.
func setDormant(t *testing.T, table string) {
	t.Helper()
	c, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	flags := []byte{0, 0, 0, unix.NFT_TABLE_F_DORMANT}
	msg, err := nftMsg(unix.NFT_MSG_NEWTABLE, netlink.Acknowledge,
		netlink.Attribute{Type: unix.NFTA_TABLE_NAME, Data: str(table)},
		netlink.Attribute{Type: unix.NFTA_TABLE_FLAGS, Data: flags})
	if err != nil {
		t.Fatal(err)
	}
	begin := netlink.Message{Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_MSG_BATCH_BEGIN), Flags: netlink.Request},
		Data: []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, unix.NFNL_SUBSYS_NFTABLES}}
	end := begin
	end.Header.Type = netlink.HeaderType(unix.NFNL_MSG_BATCH_END)
	if _, err := c.SendMessages([]netlink.Message{begin, msg, end}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Receive(); err != nil {
		t.Fatalf("set table dormant: %v", err)
	}
}
