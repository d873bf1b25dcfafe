package egress

import (
	"fmt"
	"strings"
)

// Describe renders the table Apply writes for s as `nft list table` shows
// it, one line per element, for `clem egress show` and the docs. A spec that
// fails Validate is described by its errors instead.
func Describe(s Spec) []string {
	if err := s.Validate(); err != nil {
		return strings.Split("invalid: "+err.Error(), "\n")
	}
	p := build(s)
	lines := []string{"table inet " + p.table + " {"}
	for i, c := range p.chains {
		if i > 0 {
			lines = append(lines, "")
		}
		lines = append(lines, "\tchain "+c.name+" {")
		if c.hook != nil {
			lines = append(lines, fmt.Sprintf("\t\ttype %s hook output priority %s; policy accept;", c.hook.typ, c.hook.prioText))
		}
		for _, r := range c.rules {
			lines = append(lines, fmt.Sprintf("\t\t%s comment %q", r.text, r.comment))
		}
		lines = append(lines, "\t}")
	}
	return append(lines, "}")
}
