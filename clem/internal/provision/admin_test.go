package provision

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/shared/daemonconf"
	"github.com/clemhq/clem/shared/secret"
)

// adminSocketMode is the mode shared/admin gives every admin socket.
const adminSocketMode = 0o660

// buildTeam computes the desired state of genTeam: pipelock, agent-vault
// (lead's implicit model key is brokered), one sidecar, coord, the watchdog
// and two agents.
func buildTeam(t *testing.T) *Desired {
	t.Helper()
	in := parseInputs(t, genTeam)
	in.Secret = func(string) (secret.Value, bool) { return secret.New([]byte("s3cret")), true }
	in.PlaceholderKey = []byte("0123456789abcdef0123456789abcdef")
	d, err := Build(in)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return d
}

// osUser is a user as the kernel checks it: a name and its groups.
type osUser struct {
	name   string
	groups []string
}

// projectUsers are every user of the project with the groups its unit
// gives it (pipelock joins agent-vault's group through SupplementaryGroups=).
func projectUsers(in *Inputs, d *Desired) []osUser {
	extra := map[string][]string{}
	for _, dm := range UnitData(in).Daemons {
		extra[dm.User] = dm.SupplementaryGroups
	}
	var out []osUser
	for _, u := range d.Users {
		out = append(out, osUser{name: u.Name, groups: append([]string{u.Name}, extra[u.Name]...)})
	}
	return out
}

// permits applies the kernel's owner/group/other rule for a non-root user.
func permits(u osUser, owner, group string, mode fs.FileMode, bit fs.FileMode) bool {
	switch {
	case u.name == owner:
		return mode&(bit<<6) != 0
	case slices.Contains(u.groups, group):
		return mode&(bit<<3) != 0
	}
	return mode&bit != 0
}

// reach says how far u gets towards the admin socket of role as the
// desired state lays it out: through the directories (search on each on
// the way; one the state does not make, like /run, is root's 0755), and
// then into the socket (write on it), which the daemon makes with mode
// 0660, owned by itself and in its directory's group when that directory
// is setgid.
func reach(d *Desired, p layout.Project, u osUser, role string) (dirs, socket bool, why string) {
	sock := p.AdminSocket(role)
	byPath := map[string]Dir{}
	for _, dir := range d.Dirs {
		byPath[dir.Path] = dir
	}
	var chain []string
	for dir := filepath.Dir(sock); dir != "/"; dir = filepath.Dir(dir) {
		chain = append([]string{dir}, chain...)
	}
	for _, path := range chain {
		dir, ok := byPath[path]
		if !ok {
			dir = Dir{Path: path, Mode: 0o755}
		}
		if !permits(u, orRoot(dir.Owner), orRoot(dir.Group), dir.Mode, 0o1) {
			return false, false, "no search on " + path
		}
	}
	parent := byPath[filepath.Dir(sock)]
	owner, group := p.User(role), p.User(role)
	if parent.Mode&os.ModeSetgid != 0 {
		group = orRoot(parent.Group)
	}
	if !permits(u, owner, group, adminSocketMode, 0o2) {
		return true, false, fmt.Sprintf("socket %s:%s %04o refuses writes", owner, group, adminSocketMode)
	}
	return true, true, "connects"
}

// reachErrors lists every way the admin sockets' directories break the
// rule: the watchdog and each socket's own daemon connect; everyone else
// (agents above all) is stopped by the directories provision makes, not
// only by the mode the daemon gives its socket.
func reachErrors(in *Inputs, d *Desired) []string {
	p := in.Proj
	watchdog := p.User(layout.Watchdog)
	var errs []string
	for _, role := range roles(in.Cfg) {
		for _, u := range projectUsers(in, d) {
			dirs, socket, why := reach(d, p, u, role)
			switch may := u.name == watchdog || u.name == p.User(role); {
			case may && !socket:
				errs = append(errs, fmt.Sprintf("%s cannot connect to %s's admin socket %s (%s)", u.name, role, p.AdminSocket(role), why))
			case !may && dirs:
				errs = append(errs, fmt.Sprintf("%s passes the directories to %s's admin socket %s (%s)", u.name, role, p.AdminSocket(role), why))
			}
		}
	}
	return errs
}

// TestAdminSocketsReachOnlyTheWatchdog: every daemon's admin socket can be
// reached by the watchdog and its own daemon and by no agent or other
// daemon; the directories that make this true are recreated at boot. The
// control rows break one directory each and see the check fail, so it
// is not true of any layout.
func TestAdminSocketsReachOnlyTheWatchdog(t *testing.T) {
	in := parseInputs(t, genTeam)
	d := buildTeam(t)
	p := in.Proj
	if got := roles(in.Cfg); !slices.Contains(got, layout.Vault) || !slices.Contains(got, layout.SidecarRole("db")) {
		t.Fatalf("genTeam's roles are %v: the test needs agent-vault and a sidecar", got)
	}
	if errs := reachErrors(in, d); len(errs) > 0 {
		t.Errorf("admin sockets:\n%s", strings.Join(errs, "\n"))
	}

	tmpfiles := string(d.file(p.TmpfilesConf()).Data)
	watchdog := p.User(layout.Watchdog)
	for _, role := range roles(in.Cfg) {
		want := fmt.Sprintf("d %s 2750 %s %s -", p.AdminDir(role), p.User(role), watchdog)
		if role == layout.Watchdog {
			want = fmt.Sprintf("d %s 0750 %s %s -", p.AdminDir(role), watchdog, watchdog)
		}
		if !slices.Contains(strings.Split(tmpfiles, "\n"), want) {
			t.Errorf("tmpfiles.d lacks %q:\n%s", want, tmpfiles)
		}
	}

	controls := []struct {
		name   string
		path   string
		mutate func(*Dir)
		want   string // a line of the errors it must cause
	}{
		{"agent-vault's run dir closed to others", p.RunDir(layout.Vault), func(d *Dir) { d.Mode = 0o750 },
			watchdog + " cannot connect to vault's admin socket"},
		{"agent-vault's admin dir in vault's group", p.AdminDir(layout.Vault), func(d *Dir) { d.Group = p.User(layout.Vault) },
			p.User(layout.Pipelock) + " passes the directories to vault's admin socket"},
		{"coord's admin dir open to others", p.AdminDir(layout.Coord), func(d *Dir) { d.Mode = os.ModeSetgid | 0o755 },
			p.User("lead") + " passes the directories to coord's admin socket"},
		{"coord's admin dir not setgid", p.AdminDir(layout.Coord), func(d *Dir) { d.Mode = 0o750 },
			watchdog + " cannot connect to coord's admin socket"},
		{"pipelock's run dir open to others", p.RunDir(layout.Pipelock), func(d *Dir) { d.Mode = os.ModeSetgid | 0o755 },
			p.User("solo") + " passes the directories to pipelock's admin socket"},
		{"a sidecar's run dir in its own group", p.RunDir(layout.SidecarRole("db")), func(d *Dir) { d.Group = p.User(layout.SidecarRole("db")) },
			watchdog + " cannot connect to mcp-db's admin socket"},
	}
	for _, c := range controls {
		t.Run("control/"+c.name, func(t *testing.T) {
			broken := buildTeam(t)
			i := slices.IndexFunc(broken.Dirs, func(d Dir) bool { return d.Path == c.path })
			if i < 0 {
				t.Fatalf("the desired state has no directory %s", c.path)
			}
			c.mutate(&broken.Dirs[i])
			errs := reachErrors(in, broken)
			if !slices.ContainsFunc(errs, func(e string) bool { return strings.HasPrefix(e, c.want) }) {
				t.Errorf("with %s the check reports %q, want a line starting %q", c.name, errs, c.want)
			}
		})
	}
}

// TestAdminSocketsInConfigs: every daemon's config names its admin socket
// where that daemon reads it (docs/*.md of each daemon), and the
// watchdog's [[daemon]] health is each daemon's socket, the egress guard's
// none.
func TestAdminSocketsInConfigs(t *testing.T) {
	in := parseInputs(t, genTeam)
	d := buildTeam(t)
	p := in.Proj
	keys := map[string][]string{
		layout.Pipelock:          {"listen", "admin"},
		layout.Vault:             {"listen", "admin"},
		layout.SidecarRole("db"): {"admin", "socket"},
		layout.Coord:             {"admin", "socket"},
		layout.Watchdog:          {"admin", "socket"},
	}
	for role, key := range keys {
		f := d.file(p.DaemonConfig(role))
		if f == nil {
			t.Errorf("no config %s for %s", p.DaemonConfig(role), role)
			continue
		}
		var m map[string]any
		if _, err := toml.Decode(string(f.Data), &m); err != nil {
			t.Fatalf("%s does not parse: %v", f.Path, err)
		}
		table, _ := m[key[0]].(map[string]any)
		if got := table[key[1]]; got != p.AdminSocket(role) {
			t.Errorf("%s: %s = %v, want %q", f.Path, strings.Join(key, "."), got, p.AdminSocket(role))
		}
	}

	var wd daemonconf.Watchdog
	if _, err := toml.Decode(string(d.file(p.DaemonConfig(layout.Watchdog)).Data), &wd); err != nil {
		t.Fatal(err)
	}
	health := map[string]string{}
	for _, dm := range wd.Daemons {
		health[dm.Role] = dm.Health
	}
	want := map[string]string{"egress": ""}
	for _, role := range roles(in.Cfg) {
		if role != layout.Watchdog {
			want[role] = p.AdminSocket(role)
		}
	}
	for role, w := range want {
		if got, ok := health[role]; !ok || got != w {
			t.Errorf("watchdog.toml [[daemon]] %s: health = %q (listed %v), want %q", role, got, ok, w)
		}
	}
	if len(health) != len(want) {
		t.Errorf("watchdog.toml watches %v, want %v", health, want)
	}
}
