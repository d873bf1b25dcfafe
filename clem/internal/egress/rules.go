package egress

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// Chain names inside the project's table.
const (
	filterChain = "output"     // base: filter hook output, policy accept
	natChain    = "nat_output" // base: nat hook output (transparent mode only)
	agentPrefix = "agent_"     // one regular chain per agent
)

// loopbackIfindex is lo's interface index, the same in every namespace.
const loopbackIfindex = 1

// Conntrack bits from linux/netfilter/nf_conntrack_common.h.
const (
	ctStateEstablished = 1 << 1 // NF_CT_STATE_BIT(IP_CT_ESTABLISHED)
	ctStatusDstNAT     = 1 << 5 // IPS_DST_NAT: set by the redirect
	ctDirReply         = 1      // IP_CT_DIR_REPLY
)

// plan is the table Apply writes: chains in creation order, each with its
// rules. Describe renders it; Apply and Verify's reference send it.
type plan struct {
	table  string
	chains []chain
}

type chain struct {
	name  string
	hook  *baseHook // nil for a regular chain
	rules []rule
}

type baseHook struct {
	typ      nftables.ChainType
	prio     *nftables.ChainPriority
	prioText string // as nft lists it
}

// rule pairs the expressions sent to the kernel with their nft form, so
// plans and docs show exactly what is enforced.
type rule struct {
	text    string // nft syntax, without the comment
	comment string // why; stored in the rule's userdata, shown by nft
	exprs   []expr.Any
}

// piece is a fragment of a rule: a match or a verdict.
type piece struct {
	text  string
	exprs []expr.Any
}

func mkRule(comment string, ps ...piece) rule {
	r := rule{comment: comment}
	var texts []string
	for _, p := range ps {
		texts = append(texts, p.text)
		r.exprs = append(r.exprs, p.exprs...)
	}
	r.text = strings.Join(texts, " ")
	return r
}

func cmpEq(data []byte) *expr.Cmp { return &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data} }

func skuid(uid uint32) piece {
	return piece{fmt.Sprintf("meta skuid %d", uid), []expr.Any{
		&expr.Meta{Key: expr.MetaKeySKUID, Register: 1},
		cmpEq(binaryutil.NativeEndian.PutUint32(uid)),
	}}
}

func nfprotoIPv4() piece {
	return piece{"meta nfproto ipv4", []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		cmpEq([]byte{unix.NFPROTO_IPV4}),
	}}
}

// toLoopback4 is `ip daddr 127.0.0.1`; in the inet family it needs the
// nfproto test first, as nft adds it.
func toLoopback4() piece {
	p := nfprotoIPv4()
	p.text = "ip daddr 127.0.0.1"
	p.exprs = append(p.exprs,
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		cmpEq([]byte{127, 0, 0, 1}),
	)
	return p
}

func l4TCP() []expr.Any {
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, cmpEq([]byte{unix.IPPROTO_TCP})}
}

func l4UDP() []expr.Any {
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, cmpEq([]byte{unix.IPPROTO_UDP})}
}

// sportIn is `tcp sport A-B` or `udp sport A-B`: the source port, which
// both headers carry in their first two bytes, within r.
func sportIn(proto string, r PortRange) piece {
	l4 := l4TCP()
	if proto == "udp" {
		l4 = l4UDP()
	}
	return piece{fmt.Sprintf("%s sport %s", proto, r), append(l4,
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2},
		&expr.Range{Op: expr.CmpOpEq, Register: 1,
			FromData: binaryutil.BigEndian.PutUint16(uint16(r.First)), ToData: binaryutil.BigEndian.PutUint16(uint16(r.Last))},
	)}
}

func drop() piece {
	return piece{"drop", []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}}}
}

func tcpDport(port int) piece {
	return piece{fmt.Sprintf("tcp dport %d", port), append(l4TCP(),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		cmpEq(binaryutil.BigEndian.PutUint16(uint16(port))),
	)}
}

// ctBits is `ct <key> <name>` for a bitmask key (state, status).
func ctBits(key expr.CtKey, keyText string, bit uint32, bitText string) piece {
	return piece{"ct " + keyText + " " + bitText, []expr.Any{
		&expr.Ct{Key: key, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(bit), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}}
}

func ctReply() piece {
	return piece{"ct direction reply", []expr.Any{
		&expr.Ct{Key: expr.CtKeyDIRECTION, Register: 1},
		cmpEq([]byte{ctDirReply}),
	}}
}

func oifLoopback() piece {
	return piece{`oif "lo"`, []expr.Any{
		&expr.Meta{Key: expr.MetaKeyOIF, Register: 1},
		cmpEq(binaryutil.NativeEndian.PutUint32(loopbackIfindex)),
	}}
}

func accept() piece {
	return piece{"accept", []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}}}
}

func jump(to string) piece {
	return piece{"jump " + to, []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: to}}}
}

func rejectTCPReset() piece {
	return piece{"meta l4proto tcp reject with tcp reset", append(l4TCP(),
		&expr.Reject{Type: unix.NFT_REJECT_TCP_RST})}
}

func rejectAdmin() piece {
	return piece{"reject with icmpx admin-prohibited", []expr.Any{
		&expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_ADMIN_PROHIBITED}}}
}

func redirectTo(port int) piece {
	return piece{fmt.Sprintf("redirect to :%d", port), []expr.Any{
		&expr.Immediate{Register: 1, Data: binaryutil.BigEndian.PutUint16(uint16(port))},
		&expr.Redir{RegisterProtoMin: 1},
	}}
}

func agentChain(name string) string { return agentPrefix + name }

// build turns a valid spec into the plan. Agents go in name order and MCP
// ports in numeric order, so equal specs give equal tables whatever their
// order in the file.
func build(s Spec) plan {
	agents := slices.Clone(s.Agents)
	slices.SortFunc(agents, func(a, b Agent) int { return cmp.Compare(a.Name, b.Name) })

	reserved := s.Reserved()
	out := chain{name: filterChain, hook: &baseHook{typ: nftables.ChainTypeFilter, prio: nftables.ChainPriorityFilter, prioText: "filter"}}
	chains := []chain{}
	var nat []rule
	for _, a := range agents {
		name := agentChain(a.Name)
		out.rules = append(out.rules, mkRule("agent "+a.Name, skuid(a.UID), jump(name)))

		c := chain{name: name}
		// Before the reply rule: a socket the agent managed to bind in the
		// project's block (while a daemon restarts, say) must not answer,
		// or it could pose as that daemon to other agents.
		for _, proto := range []string{"tcp", "udp"} {
			c.rules = append(c.rules, mkRule(fmt.Sprintf("%s: no %s answers from the project's ports", a.Name, proto),
				ctReply(), sportIn(proto, reserved), drop()))
		}
		c.rules = append(c.rules,
			mkRule(a.Name+": replies on loopback to connections it accepted",
				ctReply(), ctBits(expr.CtKeySTATE, "state", ctStateEstablished, "established"), oifLoopback(), accept()),
			mkRule(a.Name+": pipelock", toLoopback4(), tcpDport(s.ProxyPort), accept()),
		)
		for _, p := range slices.Sorted(slices.Values(a.MCPPorts)) {
			c.rules = append(c.rules, mkRule(fmt.Sprintf("%s: mcp %d", a.Name, p), toLoopback4(), tcpDport(p), accept()))
		}
		if a.Transparent {
			c.rules = append(c.rules, mkRule(a.Name+": pipelock transparent, redirected connections only",
				toLoopback4(), tcpDport(s.TransparentPort), ctBits(expr.CtKeySTATUS, "status", ctStatusDstNAT, "dnat"), accept()))
			for _, port := range []int{80, 443} {
				nat = append(nat, mkRule(fmt.Sprintf("%s: transparent %d", a.Name, port),
					skuid(a.UID), nfprotoIPv4(), tcpDport(port), redirectTo(s.TransparentPort)))
			}
		}
		c.rules = append(c.rules,
			mkRule(a.Name+": reject other tcp", rejectTCPReset()),
			mkRule(a.Name+": reject the rest", rejectAdmin()),
		)
		chains = append(chains, c)
	}
	all := append([]chain{out}, chains...)
	if len(nat) > 0 {
		all = append(all, chain{name: natChain, rules: nat,
			hook: &baseHook{typ: nftables.ChainTypeNAT, prio: nftables.ChainPriorityNATDest, prioText: "-100"}})
	}
	return plan{table: s.Table, chains: all}
}

// write queues the plan's table, chains and rules on c.
func (p plan) write(c *nftables.Conn) {
	t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: p.table})
	byName := map[string]*nftables.Chain{}
	for _, ch := range p.chains {
		nc := &nftables.Chain{Name: ch.name, Table: t}
		if ch.hook != nil {
			accept := nftables.ChainPolicyAccept
			nc.Type, nc.Hooknum, nc.Priority, nc.Policy = ch.hook.typ, nftables.ChainHookOutput, ch.hook.prio, &accept
		}
		byName[ch.name] = c.AddChain(nc)
	}
	for _, ch := range p.chains {
		for _, r := range ch.rules {
			c.AddRule(&nftables.Rule{Table: t, Chain: byName[ch.name], Exprs: r.exprs,
				UserData: userdata.AppendString(nil, userdata.TypeComment, r.comment)})
		}
	}
}
