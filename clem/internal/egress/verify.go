package egress

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/clemhq/clem/shared/nsthread"
)

// DiffError is Verify's answer when the live table is not the spec's: one
// line per difference, in words.
type DiffError struct {
	Table string
	Diffs []string
}

func (e *DiffError) Error() string {
	n := fmt.Sprintf("%d differences", len(e.Diffs))
	if len(e.Diffs) == 1 {
		n = "1 difference"
	}
	return fmt.Sprintf("egress: table inet %s does not match the spec (%s):\n  %s",
		e.Table, n, strings.Join(e.Diffs, "\n  "))
}

// Verify returns nil iff the live table is exactly what Apply(s) would
// write: a *DiffError when it differs, another error when it cannot tell
// (an invalid spec, no privileges, netlink failing).
//
// The kernel reports rules in its own encoding (attributes Apply did not
// send, some it did send left out), so Verify does not compare against
// what it would send. It applies s in a scratch network namespace, reads
// that table back, and compares the two readings attribute by attribute,
// handles aside: whatever the kernel version reports, a changed policy, a
// flushed chain, a deleted, added or altered rule, an extra chain or set,
// or a dormant table shows up.
func Verify(s Spec) error {
	if err := s.Validate(); err != nil {
		return err
	}
	want, err := reference(s)
	if err != nil {
		return err
	}
	got, err := takeSnapshot(s.Table)
	if err != nil {
		return fmt.Errorf("egress: verify: %w", err)
	}
	if diffs := compare(s.Table, want, got); len(diffs) > 0 {
		return &DiffError{Table: s.Table, Diffs: diffs}
	}
	return nil
}

// reference applies s in a new network namespace on a thread of its own
// and reads it back. The thread is never unlocked, so it exits with its
// goroutine and the namespace goes with it.
func reference(s Spec) (snapshot, error) {
	var (
		snap snapshot
		err  error
	)
	nsthread.Do(func() {
		if e := unix.Unshare(unix.CLONE_NEWNET); e != nil {
			err = fmt.Errorf("egress: verify: scratch network namespace for the reference table (needs CAP_SYS_ADMIN): %w", e)
			return
		}
		if e := Apply(s); e != nil {
			err = fmt.Errorf("egress: verify: reference table: %w", e)
			return
		}
		if snap, err = takeSnapshot(s.Table); err != nil {
			err = fmt.Errorf("egress: verify: reference table: %w", err)
		}
	})
	return snap, err
}

// compare lists how got differs from want, in words.
func compare(table string, want, got snapshot) []string {
	if got.table == nil {
		return []string{fmt.Sprintf("table inet %s is missing", table)}
	}
	// use counts (a table's objects, a chain's rules and jumps) follow from
	// the differences named elsewhere; they are reported only when nothing
	// else explains them (an unnamed object such as a counter, say).
	var d, use []string
	add := func(format string, args ...any) { d = append(d, fmt.Sprintf(format, args...)) }
	attrs := func(what string, want, got []netlink.Attribute, words map[uint16]func([]byte) string, useAttr uint16) {
		d = append(d, attrDiffs(what, dropAttr(want, useAttr), dropAttr(got, useAttr), words)...)
		use = append(use, attrDiffs(what, onlyAttr(want, useAttr), onlyAttr(got, useAttr), words)...)
	}

	attrs("table", want.table, got.table, tableAttrWords, unix.NFTA_TABLE_USE)
	for _, name := range got.sets {
		add("extra set or map %q", name)
	}

	gotChains := map[string]chainState{}
	for _, c := range got.chains {
		gotChains[c.name] = c
	}
	wantChains := map[string]bool{}
	for _, w := range want.chains {
		wantChains[w.name] = true
		g, ok := gotChains[w.name]
		if !ok {
			add("chain %s is missing", w.name)
			continue
		}
		attrs("chain "+w.name, w.attrs, g.attrs, chainAttrWords, unix.NFTA_CHAIN_USE)
		d = append(d, ruleDiffs(w.name, want.rules[w.name], got.rules[w.name])...)
	}
	for _, g := range got.chains {
		if !wantChains[g.name] {
			add("extra chain %s%s", g.name, hookWords(g.attrs))
			for _, r := range got.rules[g.name] {
				add("extra rule in chain %s: %s", g.name, ruleWords(r))
			}
		}
	}
	if len(d) == 0 {
		return use
	}
	return d
}

func dropAttr(attrs []netlink.Attribute, typ uint16) []netlink.Attribute {
	var out []netlink.Attribute
	for _, a := range attrs {
		if a.Type&attrTypeMask != typ {
			out = append(out, a)
		}
	}
	return out
}

func onlyAttr(attrs []netlink.Attribute, typ uint16) []netlink.Attribute {
	var out []netlink.Attribute
	for _, a := range attrs {
		if a.Type&attrTypeMask == typ {
			out = append(out, a)
		}
	}
	return out
}

// ruleDiffs matches rules by content. Order matters in a chain, so equal
// rules in another order are a difference too.
func ruleDiffs(chain string, want, got []ruleState) []string {
	var d []string
	used := make([]bool, len(want))
	var extra []ruleState
	inOrder := len(want) == len(got)
	for i, g := range got {
		found := -1
		for j, w := range want {
			if !used[j] && bytes.Equal(w.key, g.key) {
				found = j
				break
			}
		}
		if found < 0 {
			extra = append(extra, g)
			continue
		}
		used[found] = true
		inOrder = inOrder && found == i
	}
	var missing []ruleState
	for j, w := range want {
		if !used[j] {
			missing = append(missing, w)
		}
	}
	// A rule whose comment still names an expected one was altered.
	for _, g := range extra {
		altered := -1
		for k, m := range missing {
			if g.comment != "" && m.comment == g.comment {
				altered = k
				break
			}
		}
		if altered >= 0 {
			d = append(d, fmt.Sprintf("changed rule in chain %s (handle %d): %q is now %s", chain, g.handle, missing[altered].comment, exprWords(g.exprs)))
			missing = append(missing[:altered], missing[altered+1:]...)
			continue
		}
		d = append(d, fmt.Sprintf("extra rule in chain %s: %s", chain, ruleWords(g)))
	}
	for _, m := range missing {
		d = append(d, fmt.Sprintf("missing rule in chain %s: %q", chain, m.comment))
	}
	if len(d) == 0 && !inOrder {
		d = append(d, fmt.Sprintf("rules in chain %s are in another order", chain))
	}
	return d
}

func ruleWords(r ruleState) string {
	s := fmt.Sprintf("(handle %d) %s", r.handle, exprWords(r.exprs))
	if r.comment != "" {
		s += fmt.Sprintf(" comment %q", r.comment)
	}
	return s
}

// attrDiffs compares two attribute lists, naming each differing attribute
// with words(type, data) where it can.
func attrDiffs(what string, want, got []netlink.Attribute, words map[uint16]func([]byte) string) []string {
	var d []string
	types := map[uint16]bool{}
	for _, a := range append(append([]netlink.Attribute{}, want...), got...) {
		types[a.Type&attrTypeMask] = true
	}
	for typ := range uint16(attrTypeMask + 1) {
		if !types[typ] {
			continue
		}
		w, g := find(want, typ), find(got, typ)
		if bytes.Equal(w, g) {
			continue
		}
		name, show := fmt.Sprintf("attribute %d", typ), func(b []byte) string { return fmt.Sprintf("%x", b) }
		if f, ok := words[typ]; ok {
			name, show = f(nil), f
		}
		d = append(d, fmt.Sprintf("%s: %s is %s, want %s", what, name, orNone(g, show), orNone(w, show)))
	}
	return d
}

func orNone(b []byte, show func([]byte) string) string {
	if b == nil {
		return "unset"
	}
	return show(b)
}

func be32(b []byte) uint32 {
	if len(b) != 4 {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

// Words for the attributes an operator would recognise; f(nil) is the name.
var tableAttrWords = map[uint16]func([]byte) string{
	unix.NFTA_TABLE_FLAGS: func(b []byte) string {
		switch {
		case b == nil:
			return "flags"
		case be32(b)&unix.NFT_TABLE_F_DORMANT != 0:
			return fmt.Sprintf("%#x (dormant: none of its chains run)", be32(b))
		}
		return fmt.Sprintf("%#x", be32(b))
	},
	unix.NFTA_TABLE_USE: func(b []byte) string {
		if b == nil {
			return "use count (chains, sets and other objects)"
		}
		return fmt.Sprint(be32(b))
	},
}

var chainAttrWords = map[uint16]func([]byte) string{
	unix.NFTA_CHAIN_POLICY: func(b []byte) string {
		switch {
		case b == nil:
			return "policy"
		case be32(b) == uint32(nftables.ChainPolicyAccept):
			return "accept"
		case be32(b) == uint32(nftables.ChainPolicyDrop):
			return "drop"
		}
		return fmt.Sprint(be32(b))
	},
	unix.NFTA_CHAIN_TYPE: func(b []byte) string {
		if b == nil {
			return "type"
		}
		return cstring(b)
	},
	unix.NFTA_CHAIN_HOOK: func(b []byte) string {
		if b == nil {
			return "hook"
		}
		return strings.TrimPrefix(hookWords([]netlink.Attribute{{Type: unix.NFTA_CHAIN_HOOK, Data: b}}), " ")
	},
	unix.NFTA_CHAIN_USE: func(b []byte) string {
		if b == nil {
			return "use count (its rules and the jumps to it)"
		}
		return fmt.Sprint(be32(b))
	},
}

var hookNames = map[uint32]string{
	unix.NF_INET_PRE_ROUTING: "prerouting", unix.NF_INET_LOCAL_IN: "input", unix.NF_INET_FORWARD: "forward",
	unix.NF_INET_LOCAL_OUT: "output", unix.NF_INET_POST_ROUTING: "postrouting",
}

// hookWords is " (hook output priority 0)" for a base chain, "" otherwise.
func hookWords(attrs []netlink.Attribute) string {
	h := find(attrs, unix.NFTA_CHAIN_HOOK)
	if h == nil {
		return ""
	}
	ha, err := netlink.UnmarshalAttributes(h)
	if err != nil {
		return " (hook unreadable)"
	}
	num := be32(find(ha, unix.NFTA_HOOK_HOOKNUM))
	name, ok := hookNames[num]
	if !ok {
		name = fmt.Sprint(num)
	}
	return fmt.Sprintf(" (hook %s priority %d)", name, int32(be32(find(ha, unix.NFTA_HOOK_PRIORITY))))
}
