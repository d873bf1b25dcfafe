package egress

import (
	"fmt"
	"strings"

	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

var metaKeys = map[expr.MetaKey]string{
	expr.MetaKeyLEN: "length", expr.MetaKeyPROTOCOL: "protocol", expr.MetaKeyMARK: "mark",
	expr.MetaKeyIIF: "iif", expr.MetaKeyOIF: "oif", expr.MetaKeyIIFNAME: "iifname", expr.MetaKeyOIFNAME: "oifname",
	expr.MetaKeySKUID: "skuid", expr.MetaKeySKGID: "skgid", expr.MetaKeyNFPROTO: "nfproto", expr.MetaKeyL4PROTO: "l4proto",
	expr.MetaKeyCGROUP: "cgroup",
}

var ctKeys = map[expr.CtKey]string{
	expr.CtKeySTATE: "state", expr.CtKeyDIRECTION: "direction", expr.CtKeySTATUS: "status", expr.CtKeyMARK: "mark",
}

var cmpOps = map[expr.CmpOp]string{
	expr.CmpOpEq: "==", expr.CmpOpNeq: "!=", expr.CmpOpLt: "<", expr.CmpOpLte: "<=", expr.CmpOpGt: ">", expr.CmpOpGte: ">=",
}

var verdicts = map[expr.VerdictKind]string{
	expr.VerdictAccept: "accept", expr.VerdictDrop: "drop", expr.VerdictReturn: "return",
	expr.VerdictContinue: "continue", expr.VerdictBreak: "break",
}

// exprWords renders a rule's NFTA_RULE_EXPRESSIONS compactly, for an
// unexpected rule in Verify's report. It reads the raw attributes, so an
// expression the nftables library does not know still shows by name.
func exprWords(raw []byte) string {
	elems, err := netlink.UnmarshalAttributes(raw)
	if err != nil {
		return "(unreadable expressions)"
	}
	var parts []string
	for _, el := range elems {
		attrs, err := netlink.UnmarshalAttributes(el.Data)
		if err != nil {
			parts = append(parts, "(unreadable)")
			continue
		}
		parts = append(parts, oneExpr(cstring(find(attrs, unix.NFTA_EXPR_NAME)), find(attrs, unix.NFTA_EXPR_DATA)))
	}
	if len(parts) == 0 {
		return "[no expressions]"
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

func oneExpr(name string, data []byte) string {
	var e expr.Any
	switch name {
	case "meta":
		e = &expr.Meta{}
	case "cmp":
		e = &expr.Cmp{}
	case "ct":
		e = &expr.Ct{}
	case "payload":
		e = &expr.Payload{}
	case "immediate":
		e = &expr.Immediate{}
	case "range":
		e = &expr.Range{}
	default:
		return name
	}
	if err := expr.Unmarshal(unix.NFPROTO_INET, data, e); err != nil {
		return name
	}
	switch e := e.(type) {
	case *expr.Meta:
		return "meta " + orNum(metaKeys[e.Key], uint32(e.Key))
	case *expr.Ct:
		return "ct " + orNum(ctKeys[e.Key], uint32(e.Key))
	case *expr.Cmp:
		return fmt.Sprintf("%s 0x%x", orNum(cmpOps[e.Op], uint32(e.Op)), e.Data)
	case *expr.Range:
		return fmt.Sprintf("%s 0x%x-0x%x", orNum(cmpOps[e.Op], uint32(e.Op)), e.FromData, e.ToData)
	case *expr.Payload:
		return fmt.Sprintf("payload base %d offset %d len %d", e.Base, e.Offset, e.Len)
	case *expr.Immediate:
		if e.Register != unix.NFT_REG_VERDICT {
			return fmt.Sprintf("immediate 0x%x", e.Data)
		}
		v := &expr.Verdict{}
		if expr.Unmarshal(unix.NFPROTO_INET, data, v) != nil {
			return "verdict"
		}
		switch v.Kind {
		case expr.VerdictJump:
			return "jump " + v.Chain
		case expr.VerdictGoto:
			return "goto " + v.Chain
		}
		return orNum(verdicts[v.Kind], uint32(v.Kind))
	}
	return name
}

func orNum(s string, n uint32) string {
	if s == "" {
		return fmt.Sprint(n)
	}
	return s
}
