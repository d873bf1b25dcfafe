package provision

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/clemhq/clem/clem/internal/egress"
	"github.com/clemhq/clem/clem/internal/hostcmd"
	"github.com/clemhq/clem/clem/internal/layout"
)

// Options control a provision run.
type Options struct {
	DryRun  bool      // print the plan only
	Out     io.Writer // plan and progress
	Systemd bool      // systemd is PID 1: daemon-reload and reload changed daemons
	Only    []string  // agent keys: touch only these agents (and the daemons); never remove
}

// keyPath is the project's placeholder key (root 0600).
func keyPath(p layout.Project) string { return filepath.Join(p.StateDir(), "placeholder.key") }

// loadKey reads the placeholder key, or makes one (kept by Build's Once
// file, so placeholders stay stable across runs).
func loadKey(p layout.Project) ([]byte, error) {
	b, err := os.ReadFile(keyPath(p))
	if err == nil && len(b) == 32 {
		return b, nil
	}
	if err == nil {
		return nil, fmt.Errorf("%s is damaged (%d bytes, want 32): remove it to make new placeholders", keyPath(p), len(b))
	}
	if !os.IsNotExist(err) {
		return nil, err
	}
	k := make([]byte, 32)
	_, err = rand.Read(k)
	return k, err
}

// Run computes the plan, prints it and, unless DryRun, applies it in a
// fixed order: users, closing every login path to them, directories, credentials and configs, agent-vault's
// CA and the agents' trust files, the egress table, units, then removals.
// The manifest records each item before it is made, so a run that fails
// midway is finished by the next one (or undone by deprovision).
func Run(in *Inputs, o Options) (*Plan, error) {
	p := in.Proj
	prev, err := LoadManifest(p.Manifest(), p.Name)
	if err != nil {
		return nil, err
	}
	if in.PlaceholderKey, err = loadKey(p); err != nil {
		return nil, err
	}
	in.VaultCA = currentCA(p)
	d, err := build(in, o)
	if err != nil {
		return nil, err
	}
	plan, err := MakePlan(d, prev, egress.Verify)
	if err != nil {
		return nil, err
	}
	if len(o.Only) > 0 {
		plan.Changes = slices.DeleteFunc(plan.Changes, func(c Change) bool { return c.Op == "remove" })
	}
	fmt.Fprintf(o.Out, "plan for project %s:\n", p.Name)
	plan.Print(o.Out)
	if note := socketBindNote(); note != "" && in.Units != nil {
		fmt.Fprintln(o.Out, note)
	}
	if o.DryRun || plan.Count() == 0 {
		return plan, nil
	}
	a := &applier{in: in, o: o, m: prev, changed: map[string]bool{}}
	if err := a.apply(len(o.Only) == 0); err != nil {
		return plan, err
	}
	fmt.Fprintf(o.Out, "done: %d change%s applied\n", plan.Count(), map[bool]string{true: "s", false: ""}[plan.Count() != 1])
	return plan, nil
}

// build is Build restricted to o.Only.
func build(in *Inputs, o Options) (*Desired, error) {
	d, err := Build(in)
	if err != nil || len(o.Only) == 0 {
		return d, err
	}
	for _, k := range o.Only {
		if in.Cfg.Agent(k) == nil {
			return nil, fmt.Errorf("no agent %q in %s", k, in.Cfg.Path)
		}
	}
	// The daemons' configs name every agent by uid: the others must exist.
	for _, a := range in.Cfg.Agents {
		if _, ok := in.UID(a.User); !ok && !slices.Contains(o.Only, a.Key) {
			return nil, fmt.Errorf("agent %s has no user yet, and the daemons' configs name every agent: provision the whole project first (sudo clem provision)", a.Key)
		}
	}
	other := func(path string) bool {
		for _, a := range in.Cfg.Agents {
			if slices.Contains(o.Only, a.Key) {
				continue
			}
			for _, dir := range []string{in.Proj.AgentDir(a.Key), in.Proj.AgentState(a.Key), in.Proj.Home(a.Key)} {
				if path == dir || strings.HasPrefix(path, dir+"/") {
					return true
				}
			}
			if path == in.Proj.UnitPath(in.Proj.AgentUnit(a.Key)) {
				return true
			}
		}
		return false
	}
	d.Dirs = slices.DeleteFunc(d.Dirs, func(x Dir) bool { return other(x.Path) })
	d.Files = slices.DeleteFunc(d.Files, func(x File) bool { return other(x.Path) })
	d.Users = slices.DeleteFunc(d.Users, func(u User) bool {
		return u.Agent && !slices.Contains(o.Only, strings.TrimPrefix(u.Name, in.Proj.Name+"-"))
	})
	return d, nil
}

type applier struct {
	in      *Inputs
	o       Options
	m       *Manifest
	d       *Desired        // rebuilt once the users exist and again after the CA step
	changed map[string]bool // paths written this run
}

func (a *applier) say(format string, args ...any) { fmt.Fprintf(a.o.Out, "  "+format+"\n", args...) }

// record adds to the manifest and saves it before the item is made.
func (a *applier) record(fn func(m *Manifest)) error {
	fn(a.m)
	return a.m.Save(a.in.Proj.Manifest())
}

func (a *applier) apply(removeStale bool) error {
	p := a.in.Proj
	// The manifest lives in the state dir: make it first.
	for _, dir := range []Dir{{Path: p.State, Mode: 0o755}, {Path: p.StateDir(), Mode: 0o755}} {
		if err := ensureDir(dir); err != nil {
			return fmt.Errorf("state directory: %w", err)
		}
	}
	if err := a.record(func(m *Manifest) { m.Dirs = appendNew(appendNew(m.Dirs, p.State), p.StateDir()) }); err != nil {
		return err
	}
	steps := []struct {
		name string
		fn   func() error
	}{
		{"users", a.users},
		{"logins", a.logins},
		{"directories", a.dirs},
		{"files", func() error { return a.files(func(f File) bool { return f.Kind != KindUnit && f.Kind != KindTrust }) }},
		{"broker CA", a.ca},
		{"egress", a.egress},
		{"units", a.units},
	}
	if removeStale {
		steps = append(steps, struct {
			name string
			fn   func() error
		}{"removals", a.removals})
	}
	for i, s := range steps {
		fmt.Fprintf(a.o.Out, "[%d/%d] %s\n", i+1, len(steps), s.name)
		if err := s.fn(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return a.reloadChanged()
}

// desired is the desired state with what earlier steps made; refresh
// recomputes it once they changed its inputs (the users' uids, the CA).
func (a *applier) desired() (*Desired, error) {
	if a.d == nil {
		return a.refresh()
	}
	return a.d, nil
}

func (a *applier) refresh() (*Desired, error) {
	d, err := build(a.in, a.o)
	a.d = d
	return d, err
}

func (a *applier) users() error {
	d, err := a.desired()
	if err != nil {
		return err
	}
	for _, u := range d.Users {
		create, err := checkUser(u)
		if err != nil {
			return err
		}
		if err := a.record(func(m *Manifest) {
			m.Users = appendNew(m.Users, u.Name)
			if u.Agent {
				// useradd makes the home: record it with the user.
				m.Dirs = appendNew(m.Dirs, u.Home)
				m.Homes = appendNew(m.Homes, u.Home)
			}
		}); err != nil {
			return err
		}
		if create {
			if err := createUser(u); err != nil {
				return err
			}
			a.say("+ user %s", u.Name)
		} else if ch := shellChange(u); ch != "" {
			// Users made before agents stopped being login users.
			if err := hostcmd.Run("usermod", "--shell", u.Shell, u.Name); err != nil {
				return err
			}
			a.say("~ user %s (%s)", u.Name, ch)
		}
	}
	_, err = a.refresh() // the configs name the new users' uids
	return err
}

func (a *applier) dirs() error {
	d, err := a.desired()
	if err != nil {
		return err
	}
	for _, dir := range d.Dirs {
		ch, err := dirChange(dir)
		if err != nil {
			return err
		}
		if err := a.record(func(m *Manifest) {
			m.Dirs = appendNew(m.Dirs, dir.Path)
			if dir.KeepContent {
				m.Homes = appendNew(m.Homes, dir.Path)
			}
		}); err != nil {
			return err
		}
		if ch == "" {
			continue
		}
		if err := ensureDir(dir); err != nil {
			return fmt.Errorf("%s: %w", dir.Path, err)
		}
		a.say("%s dir %s", sign(ch), dir.Path)
	}
	return nil
}

func (a *applier) files(which func(File) bool) error {
	d, err := a.desired()
	if err != nil {
		return err
	}
	for _, f := range d.Files {
		if !which(f) {
			continue
		}
		ch, err := fileChange(f)
		if err != nil {
			return err
		}
		if err := a.record(func(m *Manifest) { m.Files = appendNew(m.Files, f.Path) }); err != nil {
			return err
		}
		if ch == "" {
			continue
		}
		if err := ensureFile(f); err != nil {
			return err
		}
		a.changed[f.Path] = true
		a.say("%s %s %s", sign(ch), f.Kind, f.Path)
	}
	return nil
}

// ca has agent-vault make or rotate its CA, then writes the agents' trust
// files from it.
func (a *applier) ca() error {
	if !hasRole(a.in.Cfg, layout.Vault) {
		return nil
	}
	pem, err := ensureCA(a.in.Proj)
	if err != nil {
		return err
	}
	if !bytes.Equal(pem, a.in.VaultCA) {
		a.in.VaultCA = pem
		a.say("~ agent-vault CA (new certificate)")
		if _, err := a.refresh(); err != nil {
			return err
		}
	}
	return a.files(func(f File) bool { return f.Kind == KindTrust })
}

func (a *applier) egress() error {
	d, err := a.desired()
	if err != nil || d.Egress == nil {
		return err
	}
	if d.EgressPending {
		return fmt.Errorf("the agents' users are missing: cannot pin their uids")
	}
	if egress.Verify(*d.Egress) == nil {
		return nil
	}
	if err := a.record(func(m *Manifest) { m.Table = d.Egress.Table }); err != nil {
		return err
	}
	if err := egress.Apply(*d.Egress); err != nil {
		return err
	}
	a.say("~ egress table inet %s (%d agent%s pinned)", d.Egress.Table, len(d.Egress.Agents), map[bool]string{true: "s"}[len(d.Egress.Agents) != 1])
	return nil
}

func (a *applier) units() error {
	before := len(a.changed)
	if err := a.files(func(f File) bool { return f.Kind == KindUnit }); err != nil {
		return err
	}
	d, err := a.desired()
	if err != nil {
		return err
	}
	for _, f := range d.Files {
		if f.Kind == KindUnit {
			if err := a.record(func(m *Manifest) { m.Units = appendNew(m.Units, filepath.Base(f.Path)) }); err != nil {
				return err
			}
		}
	}
	if len(a.changed) > before && a.o.Systemd {
		if err := hostcmd.Systemctl("daemon-reload"); err != nil {
			return err
		}
		a.say("~ systemctl daemon-reload")
	}
	return nil
}

func sign(change string) string {
	if change == "create" {
		return "+"
	}
	return "~"
}
