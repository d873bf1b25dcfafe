package provision

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/clemhq/clem/clem/internal/egress"
)

// Change is one line of the plan.
type Change struct {
	Op     string // create, update, remove, keep
	Kind   Kind
	Target string
	Detail string
}

// Plan is what a provision run would do.
type Plan struct {
	Changes []Change
}

// Count of changes that touch the host (keep lines do not).
func (p *Plan) Count() int {
	n := 0
	for _, c := range p.Changes {
		if c.Op != "keep" {
			n++
		}
	}
	return n
}

// Print writes the plan, one line per change, grouped in apply order.
func (p *Plan) Print(w io.Writer) {
	if p.Count() == 0 {
		fmt.Fprintln(w, "nothing to change: the host matches clem.yaml")
		return
	}
	for _, c := range p.Changes {
		sign := map[string]string{"create": "+", "update": "~", "remove": "-", "keep": "="}[c.Op]
		line := fmt.Sprintf("  %s %-10s %s", sign, c.Kind, c.Target)
		if c.Detail != "" {
			line += "  (" + c.Detail + ")"
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "%d change%s\n", p.Count(), map[bool]string{true: "s", false: ""}[p.Count() != 1])
}

// MakePlan compares the desired state with the host and the previous
// manifest. A user that exists but is not clem's is an error.
func MakePlan(d *Desired, prev *Manifest, verify func(egress.Spec) error) (*Plan, error) {
	p := &Plan{}
	add := func(op string, kind Kind, target, detail string) {
		p.Changes = append(p.Changes, Change{Op: op, Kind: kind, Target: target, Detail: detail})
	}
	var errs []string
	for _, u := range d.Users {
		create, err := checkUser(u)
		if err != nil {
			errs = append(errs, err.Error())
		} else if create {
			add("create", KindUser, u.Name, u.Comment)
		} else if ch := shellChange(u); ch != "" {
			add("update", KindUser, u.Name, ch)
		}
	}
	for _, f := range d.denyFiles() {
		listed, err := allowListed(f, d.Users)
		if err != nil {
			return nil, err
		}
		if len(listed) > 0 {
			errs = append(errs, fmt.Sprintf("the allow file beside %s lets in %s, and while it exists the deny file is not read: take them out of it", f, strings.Join(listed, ", ")))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	if err := planLogins(d, add); err != nil {
		return nil, err
	}
	for _, dir := range d.Dirs {
		ch, err := dirChange(dir)
		if err != nil {
			return nil, err
		}
		if ch == "create" {
			add("create", KindDir, dir.Path, orRoot(dir.Owner)+":"+orRoot(dir.Group)+" "+modeString(dir.Mode))
		} else if ch != "" {
			add("update", KindDir, dir.Path, ch)
		}
	}
	for _, f := range d.Files {
		ch, err := fileChange(f)
		if err != nil {
			return nil, err
		}
		if ch == "create" {
			add("create", f.Kind, f.Path, "")
		} else if ch != "" {
			add("update", f.Kind, f.Path, ch)
		}
	}
	if d.Egress != nil && d.EgressPending {
		add("create", KindEgress, "table inet "+d.Egress.Table, fmt.Sprintf("pins %d agents, once their users exist", len(d.Egress.Agents)))
	} else if d.Egress != nil {
		if err := verify(*d.Egress); err != nil {
			add("update", KindEgress, "table inet "+d.Egress.Table, firstLine(err.Error()))
		}
	}
	for _, c := range outsideUnit(d.layout, d.Users) {
		p.Changes = append(p.Changes, c)
	}
	for _, c := range removals(d, prev) {
		p.Changes = append(p.Changes, c)
	}
	return p, nil
}

// removals lists what the manifest has that the desired state does not.
// Homes and state directories of removed agents are kept.
func removals(d *Desired, prev *Manifest) []Change {
	var out []Change
	for _, f := range prev.Files {
		if d.file(f) == nil {
			out = append(out, Change{Op: "remove", Kind: KindFile, Target: f})
		}
	}
	if prev.Table != "" && (d.Egress == nil || d.Egress.Table != prev.Table) {
		out = append(out, Change{Op: "remove", Kind: KindEgress, Target: "table inet " + prev.Table})
	}
	want := map[string]bool{}
	for _, dir := range d.Dirs {
		want[dir.Path] = true
	}
	for i := len(prev.Dirs) - 1; i >= 0; i-- {
		dir := prev.Dirs[i]
		if want[dir] {
			continue
		}
		if slices.Contains(prev.Homes, dir) {
			out = append(out, Change{Op: "keep", Kind: KindDir, Target: dir, Detail: "no longer used; kept with its content"})
			continue
		}
		out = append(out, Change{Op: "remove", Kind: KindDir, Target: dir})
	}
	for _, l := range prev.Deny {
		if !slices.Contains(d.Deny, l) {
			out = append(out, Change{Op: "remove", Kind: KindDeny, Target: l.File, Detail: l.User})
		}
	}
	users := map[string]bool{}
	for _, u := range d.Users {
		users[u.Name] = true
	}
	for _, u := range prev.Users {
		if !users[u] {
			out = append(out, Change{Op: "remove", Kind: KindUser, Target: u})
		}
	}
	return out
}

// planLogins adds the sshd drop-in and the deny lines still missing.
func planLogins(d *Desired, add func(op string, kind Kind, target, detail string)) error {
	if d.SSHD != nil {
		ch, err := fileChange(*d.SSHD)
		if err != nil {
			return err
		}
		if ch != "" {
			add(map[bool]string{true: "create", false: "update"}[ch == "create"], KindSSHD, d.SSHD.Path, "DenyUsers for the project's users")
		}
	}
	missing, err := denyChanges(d.Deny)
	if err != nil {
		return err
	}
	for _, l := range missing {
		add("create", KindDeny, l.File, l.User)
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
