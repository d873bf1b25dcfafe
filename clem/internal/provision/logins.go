package provision

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"

	"github.com/clemhq/clem/clem/internal/hostcmd"
	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/shared/fsutil"
)

// An agent that could start a process outside its unit would be outside
// its sandbox, its egress pin for what it reads and writes through that
// process, and the audit. So no user of the project may log in by any
// path: its shell is nologin (users.go), sshd denies it (sshd.go), cron
// and at refuse it (the deny files below), it never lingers (no user
// manager of its own at boot), and a crontab planted before provision
// closed the door is removed.

// DenyLine is one user name provision put in a shared deny file
// (/etc/cron.deny, /etc/at.deny), which keeps every other line as it was.
type DenyLine struct {
	File string `json:"file"`
	User string `json:"user"`
}

// denyLines lists every project user in cron.deny and at.deny: the agents
// above all, and the daemons too (they never need cron either).
func denyLines(p layout.Project, users []User) []DenyLine {
	var out []DenyLine
	for _, f := range []string{p.CronDeny, p.AtDeny} {
		for _, u := range users {
			out = append(out, DenyLine{File: f, User: u.Name})
		}
	}
	return out
}

// readLines returns the lines of a deny file; ok is false when it does not
// exist.
func readLines(path string) (lines []string, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil, true, nil
	}
	return strings.Split(s, "\n"), true, nil
}

// denyChanges says which of want are missing from their files.
func denyChanges(want []DenyLine) ([]DenyLine, error) {
	var missing []DenyLine
	cache := map[string][]string{}
	for _, d := range want {
		lines, seen := cache[d.File]
		if !seen {
			var err error
			if lines, _, err = readLines(d.File); err != nil {
				return nil, fmt.Errorf("read %s: %w", d.File, err)
			}
			cache[d.File] = lines
		}
		if !slices.Contains(lines, d.User) {
			missing = append(missing, d)
		}
	}
	return missing, nil
}

// allowListed reports the project users an allow file names: when
// /etc/cron.allow (or at.allow) exists, cron and at read it alone and
// ignore the deny file, so a user it lists would still get in.
func allowListed(denyFile string, users []User) ([]string, error) {
	allow := strings.TrimSuffix(denyFile, ".deny") + ".allow"
	lines, _, err := readLines(allow)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", allow, err)
	}
	var out []string
	for _, u := range users {
		if slices.Contains(lines, u.Name) {
			out = append(out, u.Name+" (in "+allow+")")
		}
	}
	return out, nil
}

// addDenyLine appends user to file, creating it (root 0644, the mode
// Debian ships) when missing; created reports that it did.
func addDenyLine(file, user string) (created bool, err error) {
	lines, ok, err := readLines(file)
	if err != nil {
		return false, err
	}
	if slices.Contains(lines, user) {
		return false, nil
	}
	mode, uid, gid := fs.FileMode(0o644), 0, 0
	if ok {
		if mode, uid, gid, err = ownerOf(file); err != nil {
			return false, err
		}
	}
	data := strings.Join(append(lines, user), "\n") + "\n"
	return !ok, fsutil.WriteFileOwned(file, []byte(data), mode, uid, gid)
}

// removeDenyLine takes user out of file; the file goes when clem created
// it and nothing else is left in it.
func removeDenyLine(file, user string, createdByClem bool) error {
	lines, ok, err := readLines(file)
	if err != nil || !ok {
		return err
	}
	rest := slices.DeleteFunc(slices.Clone(lines), func(l string) bool { return l == user })
	if len(rest) == 0 && createdByClem {
		return removePath(file, false)
	}
	if len(rest) == len(lines) {
		return nil
	}
	mode, uid, gid, err := ownerOf(file)
	if err != nil {
		return err
	}
	data := ""
	if len(rest) > 0 {
		data = strings.Join(rest, "\n") + "\n"
	}
	return fsutil.WriteFileOwned(file, []byte(data), mode, uid, gid)
}

func ownerOf(path string) (fs.FileMode, int, int, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, 0, 0, err
	}
	sys := st.Sys().(*syscall.Stat_t)
	return st.Mode().Perm(), int(sys.Uid), int(sys.Gid), nil
}

// outsideUnit lists what would start a project user's processes outside
// its unit and exists on this host now: a linger file (its own systemd
// manager at boot, with user units it may write) and a crontab.
func outsideUnit(p layout.Project, users []User) []Change {
	var out []Change
	for _, u := range users {
		if _, err := os.Lstat(p.LingerFile(u.Name)); err == nil {
			out = append(out, Change{Op: "remove", Kind: KindLinger, Target: p.LingerFile(u.Name), Detail: "its user manager would run at boot, outside the unit"})
		}
		tab := p.CronTabs + "/" + u.Name
		if _, err := os.Lstat(tab); err == nil {
			out = append(out, Change{Op: "remove", Kind: KindCrontab, Target: tab, Detail: "cron would run it outside the unit"})
		}
	}
	return out
}

// closeOutside removes a linger file (through loginctl when systemd runs,
// which also stops that user's manager) or a crontab.
func closeOutside(c Change, systemd bool) error {
	if c.Kind == KindLinger && systemd {
		user := c.Target[strings.LastIndex(c.Target, "/")+1:]
		if err := hostcmd.Run("loginctl", "disable-linger", user); err != nil {
			return err
		}
	}
	return removePath(c.Target, false)
}

// loginShell is user's shell from the passwd database; "" when unknown.
func loginShell(user string) string {
	out, err := exec.Command(hostcmd.Path("getent"), "passwd", user).Output()
	if err != nil {
		return ""
	}
	f := strings.Split(strings.TrimSpace(string(out)), ":")
	if len(f) < 7 {
		return ""
	}
	return f[6]
}

// logins closes the ways into a login outside the units, right after the
// users exist: the sshd drop-in (checked and reloaded), the deny lines, and
// any linger file or crontab the users have.
func (a *applier) logins() error {
	d, err := a.desired()
	if err != nil {
		return err
	}
	if f := d.SSHD; f != nil {
		ch, err := fileChange(*f)
		if err != nil {
			return err
		}
		if err := a.record(func(m *Manifest) { m.Files = appendNew(m.Files, f.Path) }); err != nil {
			return err
		}
		if ch != "" {
			if err := ensureFile(*f); err != nil {
				return err
			}
			a.say("%s sshd %s", sign(ch), f.Path)
		}
		// Every run: a run that failed after writing it still reloads.
		names := make([]string, len(d.Users))
		for i, u := range d.Users {
			names[i] = u.Name
		}
		reloaded, note, err := applySSHD(a.in.Proj, names)
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
	missing, err := denyChanges(d.Deny)
	if err != nil {
		return err
	}
	for _, l := range missing {
		if err := a.record(func(m *Manifest) {
			if !slices.Contains(m.Deny, l) {
				m.Deny = append(m.Deny, l)
			}
		}); err != nil {
			return err
		}
		created, err := addDenyLine(l.File, l.User)
		if err != nil {
			return fmt.Errorf("%s: %w", l.File, err)
		}
		if created {
			if err := a.record(func(m *Manifest) { m.DenyCreated = appendNew(m.DenyCreated, l.File) }); err != nil {
				return err
			}
		}
		a.say("+ deny %s %s", l.File, l.User)
	}
	for _, c := range outsideUnit(a.in.Proj, d.Users) {
		if err := closeOutside(c, a.o.Systemd); err != nil {
			return fmt.Errorf("remove %s %s: %w", c.Kind, c.Target, err)
		}
		a.say("- %s %s", c.Kind, c.Target)
	}
	return nil
}
