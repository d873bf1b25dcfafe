package egress

import (
	"fmt"

	"github.com/google/nftables"
)

// Apply creates the table for s, or replaces the existing one, in a single
// netlink batch: add the table (so the delete cannot fail), delete it with
// everything in it, then add the new table, chains and rules. The kernel
// commits the batch as one transaction, so packets see either the old rules
// or the new ones, never none; a batch that fails leaves the old table.
func Apply(s Spec) error {
	if err := s.Validate(); err != nil {
		return err
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("egress: apply table inet %s: %w", s.Table, err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: s.Table}
	c.AddTable(t)
	c.DelTable(t)
	build(s).write(c)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("egress: apply table inet %s: %w", s.Table, err)
	}
	return nil
}

// Delete removes the table; no table is not an error. Like Apply it is one
// batch (add, then delete), so it cannot race another Delete.
func Delete(table string) error {
	if !tableRE.MatchString(table) {
		return fmt.Errorf("egress: delete table %q: not a clem table name", table)
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("egress: delete table inet %s: %w", table, err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: table}
	c.AddTable(t)
	c.DelTable(t)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("egress: delete table inet %s: %w", table, err)
	}
	return nil
}
