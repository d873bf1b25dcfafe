package egress

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// A snapshot is one table as the kernel reports it over netlink, with the
// attributes that differ between two equal tables (handles, positions,
// names already used as keys) removed. Two tables are the same iff their
// snapshots are equal; Verify compares the live table's snapshot with that
// of the table Apply writes.
type snapshot struct {
	table  []netlink.Attribute // nil: no such table
	chains []chainState        // in the kernel's order
	rules  map[string][]ruleState
	sets   []string // names of sets and maps in the table
}

type chainState struct {
	name  string
	attrs []netlink.Attribute
}

type ruleState struct {
	handle  uint64
	key     []byte // the kept attributes, marshaled in type order
	comment string
	exprs   []byte // NFTA_RULE_EXPRESSIONS, to show an unexpected rule
}

const attrTypeMask = 0x3fff

// Attribute numbers golang.org/x/sys/unix lacks (linux/netfilter/nf_tables.h).
const (
	nftaTableHandle    = 4
	nftaTablePad       = 5
	nftaChainID        = 11
	nftaRulePositionID = 10
	nftaRuleChainID    = 11
)

// Attributes left out of a snapshot. Unknown attributes are kept, so a
// newer kernel reporting more makes Verify stricter, not blind.
var (
	tableSkip = []uint16{nftaTableHandle, nftaTablePad}
	chainSkip = []uint16{unix.NFTA_CHAIN_TABLE, unix.NFTA_CHAIN_HANDLE, unix.NFTA_CHAIN_PAD, nftaChainID}
	ruleSkip  = []uint16{unix.NFTA_RULE_TABLE, unix.NFTA_RULE_CHAIN, unix.NFTA_RULE_HANDLE, unix.NFTA_RULE_POSITION,
		unix.NFTA_RULE_PAD, unix.NFTA_RULE_ID, nftaRulePositionID, nftaRuleChainID}
)

func dial() (*netlink.Conn, error) {
	// Config.NetNS 0: the socket lives in the calling thread's namespace.
	return netlink.Dial(unix.NETLINK_NETFILTER, nil)
}

func nftMsg(msgType uint16, flags netlink.HeaderFlags, attrs ...netlink.Attribute) (netlink.Message, error) {
	data, err := netlink.MarshalAttributes(attrs)
	if err != nil {
		return netlink.Message{}, err
	}
	// struct nfgenmsg: family, version, resource id.
	hdr := []byte{unix.NFPROTO_INET, unix.NFNETLINK_V0, 0, 0}
	return netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | msgType), Flags: netlink.Request | flags},
		Data:   append(hdr, data...),
	}, nil
}

func str(s string) []byte { return append([]byte(s), 0) }

// attrsOf decodes a reply's attributes after its nfgenmsg header.
func attrsOf(m netlink.Message) ([]netlink.Attribute, error) {
	if len(m.Data) < 4 {
		return nil, fmt.Errorf("short nftables message (%d bytes)", len(m.Data))
	}
	return netlink.UnmarshalAttributes(m.Data[4:])
}

func find(attrs []netlink.Attribute, typ uint16) []byte {
	for _, a := range attrs {
		if a.Type&attrTypeMask == typ {
			return a.Data
		}
	}
	return nil
}

func cstring(b []byte) string { return string(bytes.TrimRight(b, "\x00")) }

// keep drops skip and sorts by type, so equal content gives equal bytes.
func keep(attrs []netlink.Attribute, skip []uint16) []netlink.Attribute {
	var out []netlink.Attribute
	for _, a := range attrs {
		if !slices.Contains(skip, a.Type&attrTypeMask) {
			out = append(out, netlink.Attribute{Type: a.Type, Data: a.Data})
		}
	}
	slices.SortStableFunc(out, func(a, b netlink.Attribute) int { return cmp.Compare(a.Type&attrTypeMask, b.Type&attrTypeMask) })
	return out
}

// getTable returns the table's attributes, or nil if it does not exist.
func getTable(c *netlink.Conn, table string) ([]netlink.Attribute, error) {
	m, err := nftMsg(unix.NFT_MSG_GETTABLE, 0, netlink.Attribute{Type: unix.NFTA_TABLE_NAME, Data: str(table)})
	if err != nil {
		return nil, err
	}
	msgs, err := c.Execute(m)
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get table: %w", err)
	}
	if len(msgs) != 1 {
		return nil, fmt.Errorf("get table: %d replies, want 1", len(msgs))
	}
	return attrsOf(msgs[0])
}

// dumpOf returns the attributes of every object a dump request lists whose
// table attribute names table.
func dumpOf(c *netlink.Conn, msgType, tableAttr uint16, table string) ([][]netlink.Attribute, error) {
	m, err := nftMsg(msgType, netlink.Dump, netlink.Attribute{Type: tableAttr, Data: str(table)})
	if err != nil {
		return nil, err
	}
	msgs, err := c.Execute(m)
	if err != nil {
		return nil, err
	}
	var out [][]netlink.Attribute
	for _, msg := range msgs {
		attrs, err := attrsOf(msg)
		if err != nil {
			return nil, err
		}
		if cstring(find(attrs, tableAttr)) == table {
			out = append(out, attrs)
		}
	}
	return out, nil
}

// genID is the ruleset generation, bumped by every committed change.
func genID(c *netlink.Conn) (uint32, error) {
	m, err := nftMsg(unix.NFT_MSG_GETGEN, 0)
	if err != nil {
		return 0, err
	}
	msgs, err := c.Execute(m)
	if err != nil {
		return 0, fmt.Errorf("get ruleset generation: %w", err)
	}
	if len(msgs) != 1 {
		return 0, fmt.Errorf("get ruleset generation: %d replies, want 1", len(msgs))
	}
	attrs, err := attrsOf(msgs[0])
	if err != nil {
		return 0, err
	}
	id := find(attrs, unix.NFTA_GEN_ID)
	if len(id) != 4 {
		return 0, errors.New("get ruleset generation: no id in the reply")
	}
	return binary.BigEndian.Uint32(id), nil
}

// takeSnapshot reads the table in the calling thread's namespace.
func takeSnapshot(table string) (snapshot, error) {
	s, _, err := snapshotAt(table)
	return s, err
}

// snapshotAt reads the table and returns the ruleset generation it was
// read at. The table, chains and rules come from separate requests; if the
// ruleset changed in between (another Apply, a tamper), it reads again,
// also when the change made a read fail.
func snapshotAt(table string) (snapshot, uint32, error) {
	c, err := dial()
	if err != nil {
		return snapshot{}, 0, fmt.Errorf("read table inet %s: %w", table, err)
	}
	defer c.Close()
	for range 5 {
		before, err := genID(c)
		if err != nil {
			return snapshot{}, 0, fmt.Errorf("read table inet %s: %w", table, err)
		}
		s, readErr := readTable(c, table)
		after, err := genID(c)
		if err != nil {
			return snapshot{}, 0, fmt.Errorf("read table inet %s: %w", table, err)
		}
		if before != after {
			// Changed while it was read (a table deleted between its
			// lookup and the dump of its chains fails the dump with
			// ENOENT): read it again.
			continue
		}
		if readErr != nil {
			return snapshot{}, 0, fmt.Errorf("read table inet %s: %w", table, readErr)
		}
		return s, after, nil
	}
	return snapshot{}, 0, fmt.Errorf("read table inet %s: the ruleset kept changing while it was read", table)
}

func readTable(c *netlink.Conn, table string) (snapshot, error) {
	var s snapshot
	attrs, err := getTable(c, table)
	if err != nil || attrs == nil {
		return s, err
	}
	s.table = keep(attrs, tableSkip)
	chains, err := dumpOf(c, unix.NFT_MSG_GETCHAIN, unix.NFTA_CHAIN_TABLE, table)
	if err != nil {
		return s, fmt.Errorf("list chains: %w", err)
	}
	for _, a := range chains {
		s.chains = append(s.chains, chainState{name: cstring(find(a, unix.NFTA_CHAIN_NAME)), attrs: keep(a, chainSkip)})
	}
	rules, err := dumpOf(c, unix.NFT_MSG_GETRULE, unix.NFTA_RULE_TABLE, table)
	if err != nil {
		return s, fmt.Errorf("list rules: %w", err)
	}
	s.rules = map[string][]ruleState{}
	for _, a := range rules {
		kept := keep(a, ruleSkip)
		key, err := netlink.MarshalAttributes(kept)
		if err != nil {
			return s, err
		}
		r := ruleState{key: key, exprs: find(a, unix.NFTA_RULE_EXPRESSIONS)}
		if h := find(a, unix.NFTA_RULE_HANDLE); len(h) == 8 {
			r.handle = binary.BigEndian.Uint64(h)
		}
		if ud := find(a, unix.NFTA_RULE_USERDATA); ud != nil {
			r.comment, _ = userdata.GetString(ud, userdata.TypeComment)
		}
		ch := cstring(find(a, unix.NFTA_RULE_CHAIN))
		s.rules[ch] = append(s.rules[ch], r)
	}
	sets, err := dumpOf(c, unix.NFT_MSG_GETSET, unix.NFTA_SET_TABLE, table)
	if err != nil {
		return s, fmt.Errorf("list sets: %w", err)
	}
	for _, a := range sets {
		s.sets = append(s.sets, cstring(find(a, unix.NFTA_SET_NAME)))
	}
	return s, nil
}
