package provision

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/clemhq/clem/clem/internal/egress"
	"github.com/clemhq/clem/clem/internal/hostcmd"
	"github.com/clemhq/clem/clem/internal/layout"
)

// removals deletes what the manifest has and clem.yaml no longer asks for.
// Homes and state directories of removed agents stay (deprovision removes
// them).
func (a *applier) removals() error {
	d, err := a.desired()
	if err != nil {
		return err
	}
	for _, c := range removals(d, a.m) {
		if c.Op != "remove" {
			continue
		}
		if err := a.remove(c); err != nil {
			return err
		}
		a.say("- %s %s", c.Kind, c.Target)
	}
	return nil
}

// remove undoes one manifest item and drops it from the manifest.
func (a *applier) remove(c Change) error {
	switch c.Kind {
	case KindFile:
		unit := strings.HasPrefix(c.Target, a.in.Proj.Units+"/")
		if unit && a.o.Systemd {
			_ = hostcmd.Systemctl("disable", "--now", filepath.Base(c.Target)) // already stopped or unknown is fine
		}
		if err := removePath(c.Target, false); err != nil {
			return err
		}
		if unit && a.o.Systemd {
			if err := hostcmd.Systemctl("daemon-reload"); err != nil {
				return err
			}
		}
		if c.Target == a.in.Proj.SSHDropIn() {
			reloaded, note, err := applySSHD(a.in.Proj, nil)
			if err != nil {
				return err
			}
			if reloaded {
				a.say("~ sshd reloaded")
			}
			if note != "" {
				a.say("! %s", note)
			}
		}
		return a.record(func(m *Manifest) {
			m.Files = without(m.Files, c.Target)
			m.Units = without(m.Units, filepath.Base(c.Target))
		})
	case KindEgress:
		if err := egress.Delete(a.m.Table); err != nil {
			return err
		}
		return a.record(func(m *Manifest) { m.Table = "" })
	case KindDir:
		// Homes, state and runtime directories hold what the daemons and
		// agents made (logs, sockets, work): they go with their content.
		all := slices.Contains(a.m.Homes, c.Target) || strings.HasPrefix(c.Target, a.in.Proj.Run+"/")
		if err := removePath(c.Target, all); err != nil {
			return fmt.Errorf("remove %s: %w", c.Target, err)
		}
		return a.record(func(m *Manifest) { m.Dirs, m.Homes = without(m.Dirs, c.Target), without(m.Homes, c.Target) })
	case KindDeny:
		l := DenyLine{File: c.Target, User: c.Detail}
		if err := removeDenyLine(l.File, l.User, slices.Contains(a.m.DenyCreated, l.File)); err != nil {
			return fmt.Errorf("%s: %w", l.File, err)
		}
		return a.record(func(m *Manifest) {
			m.Deny = slices.DeleteFunc(m.Deny, func(x DenyLine) bool { return x == l })
			if !slices.ContainsFunc(m.Deny, func(x DenyLine) bool { return x.File == l.File }) {
				m.DenyCreated = without(m.DenyCreated, l.File)
			}
		})
	case KindUser:
		if err := deleteUser(c.Target); err != nil {
			return err
		}
		return a.record(func(m *Manifest) { m.Users = without(m.Users, c.Target) })
	}
	return fmt.Errorf("unknown item kind %q", c.Kind)
}

// reloadChanged reloads running daemons whose config or credentials
// changed and restarts running agents whose files changed.
func (a *applier) reloadChanged() error {
	if !a.o.Systemd {
		return nil
	}
	p := a.in.Proj
	for _, r := range roles(a.in.Cfg) {
		if verb := daemonRefresh(p, r, a.changedUnder); verb != "" {
			if err := hostcmd.Systemctl(verb, p.DaemonUnit(r)); err != nil {
				return err
			}
		}
	}
	for _, ag := range a.in.Cfg.Agents {
		if a.changedUnder(p.AgentDir(ag.Key)) {
			if err := hostcmd.Systemctl("try-restart", p.AgentUnit(ag.Key)); err != nil {
				return err
			}
		}
	}
	return nil
}

// daemonRefresh is how systemctl brings daemon role up to what this run
// wrote: a reload (SIGHUP; every daemon re-reads its config) when only
// its config changed, a restart when its credentials or its unit did,
// since systemd copies LoadCredential= files and applies a unit's
// settings only when it starts the daemon; "" when nothing of it changed.
// The try- verbs leave a stopped daemon stopped.
func daemonRefresh(p layout.Project, role string, changed func(path string) bool) string {
	switch {
	case changed(p.CredDir(role)) || changed(p.UnitPath(p.DaemonUnit(role))):
		return "try-restart"
	case changed(p.DaemonConfig(role)):
		return "try-reload-or-restart"
	}
	return ""
}

func (a *applier) changedUnder(path string) bool {
	for f := range a.changed {
		if f == path || strings.HasPrefix(f, path+"/") {
			return true
		}
	}
	return false
}

// DeprovisionOptions control Deprovision.
type DeprovisionOptions struct {
	KeepUsers bool
	KeepHomes bool // agent homes and daemon state
	DryRun    bool
	Systemd   bool
}

// Deprovision removes everything the manifest records, in reverse order:
// units (stopped first), the egress table, files, directories, users, and
// the manifest itself. It needs no clem.yaml.
func Deprovision(p layout.Project, o DeprovisionOptions, out interface{ Write([]byte) (int, error) }) error {
	m, err := LoadManifest(p.Manifest(), p.Name)
	if err != nil {
		return err
	}
	if m.empty() {
		fmt.Fprintf(out, "nothing to remove: no manifest for project %s at %s\n", p.Name, p.Manifest())
		return nil
	}
	var cs []Change
	for _, u := range m.Units {
		cs = append(cs, Change{Op: "remove", Kind: KindFile, Target: p.UnitPath(u)})
	}
	if m.Table != "" {
		cs = append(cs, Change{Op: "remove", Kind: KindEgress, Target: "table inet " + m.Table})
	}
	// Kept users stay locked out: their homes may hold a planted key.
	keepLocks := o.KeepUsers && len(m.Users) > 0
	for _, f := range m.Files {
		if keepLocks && f == p.SSHDropIn() {
			cs = append(cs, Change{Op: "keep", Kind: KindSSHD, Target: f, Detail: "the kept users stay denied"})
			continue
		}
		if o.KeepHomes && f == keyPath(p) {
			// Kept with the homes, so a later provision gives the same placeholders.
			cs = append(cs, Change{Op: "keep", Kind: KindFile, Target: f})
			continue
		}
		if !slices.Contains(m.Units, filepath.Base(f)) || !strings.HasPrefix(f, p.Units+"/") {
			cs = append(cs, Change{Op: "remove", Kind: KindFile, Target: f})
		}
	}
	for _, l := range m.Deny {
		op := "remove"
		if keepLocks {
			op = "keep"
		}
		cs = append(cs, Change{Op: op, Kind: KindDeny, Target: l.File, Detail: l.User})
	}
	kept := func(dir string) bool {
		if !o.KeepHomes {
			return false
		}
		if dir == p.StateDir() {
			return true // holds the kept placeholder key
		}
		for _, h := range m.Homes {
			if h == dir || strings.HasPrefix(h, dir+"/") {
				return true // a kept directory or one of its parents
			}
		}
		return false
	}
	for i := len(m.Dirs) - 1; i >= 0; i-- {
		dir := m.Dirs[i]
		if kept(dir) {
			cs = append(cs, Change{Op: "keep", Kind: KindDir, Target: dir})
			continue
		}
		cs = append(cs, Change{Op: "remove", Kind: KindDir, Target: dir})
	}
	if !o.KeepUsers {
		for i := len(m.Users) - 1; i >= 0; i-- {
			cs = append(cs, Change{Op: "remove", Kind: KindUser, Target: m.Users[i]})
		}
	}
	plan := &Plan{Changes: cs}
	fmt.Fprintf(out, "deprovision project %s:\n", p.Name)
	plan.Print(out)
	if o.DryRun {
		return nil
	}
	a := &applier{in: &Inputs{Proj: p}, o: Options{Out: out, Systemd: o.Systemd}, m: m, changed: map[string]bool{}}
	var last []string // the state dir (it holds the manifest) and the shared roots go last
	for _, c := range cs {
		if c.Op != "remove" {
			continue
		}
		if c.Kind == KindDir && (c.Target == p.StateDir() || isShared(p, c.Target)) {
			last = append(last, c.Target)
			continue
		}
		if err := a.remove(c); err != nil {
			return fmt.Errorf("remove %s %s: %w", c.Kind, c.Target, err)
		}
		a.say("- %s %s", c.Kind, c.Target)
	}
	if o.KeepUsers && len(m.Users) > 0 {
		// The kept users stay on record, so a later deprovision removes them.
		kept := &Manifest{Project: p.Name, Users: m.Users, Dirs: []string{p.State, p.StateDir()}, Deny: m.Deny, DenyCreated: m.DenyCreated}
		if slices.Contains(m.Files, p.SSHDropIn()) {
			kept.Files = []string{p.SSHDropIn()}
		}
		if err := kept.Save(p.Manifest()); err != nil {
			return err
		}
		fmt.Fprintf(out, "done: project removed; its %d users stay (a later `clem deprovision --project %s` removes them)\n", len(m.Users), p.Name)
		return nil
	}
	if err := removePath(p.Manifest(), false); err != nil {
		return err
	}
	for _, dir := range last {
		// A shared root another project still uses stays.
		if err := removePath(dir, false); err != nil && !isShared(p, dir) {
			return fmt.Errorf("remove dir %s: %w", dir, err)
		} else if err == nil {
			a.say("- dir %s", dir)
		}
	}
	fmt.Fprintln(out, "done: project removed")
	return nil
}

// isShared: the roots every project shares.
func isShared(p layout.Project, dir string) bool {
	return dir == p.Etc || dir == p.State || dir == p.Run
}
