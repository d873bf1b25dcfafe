package systemdns

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Target is the unit the machine boots into. Units in Options.Units can
// hang off it with WantedBy=systemdns.target (enable them by adding a
// systemdns.target.wants/ symlink to the unit directory) or be started with
// Systemctl once the machine is up.
const Target = "systemdns.target"

// hostUnits is where the copied base units come from.
const hostUnits = "/lib/systemd/system"

// stubs replace the host's sysinit, basic and sockets targets: whitelisted
// journald (and D-Bus), nothing else. Without them sysinit.target pulls in
// the host's tmpfiles, sysctl and binfmt units, which touch the host.
var stubs = map[string]string{
	"sysinit.target": `[Unit]
Description=System Initialization (systemdns stub)
DefaultDependencies=no
Wants=systemd-journald.service
After=systemd-journald.service
`,
	"basic.target": `[Unit]
Description=Basic System (systemdns stub)
DefaultDependencies=no
Requires=sysinit.target
Wants=sockets.target
After=sysinit.target sockets.target
`,
	Target: `[Unit]
Description=systemdns: the test machine's default target
Requires=basic.target
After=basic.target
AllowIsolate=yes
`,
}

// copied are host units taken as they are: journald's sockets and what
// poweroff needs.
var copied = []string{
	"systemd-journald.socket", "systemd-journald-dev-log.socket",
	"shutdown.target", "umount.target", "final.target", "exit.target", "systemd-exit.service",
	"poweroff.target", "systemd-poweroff.service", "halt.target", "systemd-halt.service",
	"reboot.target", "systemd-reboot.service",
}

// dbusUnits are Debian's dbus package's system bus units.
var dbusUnits = []string{"dbus.socket", "dbus.service"}

// keptMounts are the machine's setup mounts. systemd sees them as mount
// units; with default dependencies, poweroff would unmount /etc/passwd
// while User= services still stop (their ExecStop= fails with 217/USER).
var keptMounts = []string{"/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow",
	"/etc/systemd/system", "/tmp", "/var/tmp"}

var socketsLine = regexp.MustCompile(`(?m)^Sockets=.*$`)

// writeUnits fills dir, the machine's /etc/systemd/system: the base units,
// the keep-mounted drop-ins, then a copy of the caller's units (which may
// override any base unit).
func writeUnits(dir string, o Options) error {
	for name, body := range stubs {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	sockets := "Wants=systemd-journald.socket systemd-journald-dev-log.socket"
	if o.Dbus {
		sockets += " dbus.socket"
	}
	body := "[Unit]\nDescription=Socket Units (systemdns stub)\nDefaultDependencies=no\n" + sockets + "\n"
	if err := os.WriteFile(filepath.Join(dir, "sockets.target"), []byte(body), 0o644); err != nil {
		return err
	}
	// journald without the audit socket (no audit in a namespace).
	jd, err := os.ReadFile(filepath.Join(hostUnits, "systemd-journald.service"))
	if err != nil {
		return fmt.Errorf("read the host's journald unit: %w", err)
	}
	jd = socketsLine.ReplaceAll(jd, []byte("Sockets=systemd-journald.socket systemd-journald-dev-log.socket"))
	if err := os.WriteFile(filepath.Join(dir, "systemd-journald.service"), jd, 0o644); err != nil {
		return err
	}
	units := copied
	if o.Dbus {
		units = append(append([]string(nil), copied...), dbusUnits...)
	}
	for _, u := range units {
		// Copies, not symlinks: systemd warns that a linked unit "changed on disk".
		b, err := os.ReadFile(filepath.Join(hostUnits, u))
		if err != nil {
			return fmt.Errorf("read the host's %s (is the systemd%s package installed?): %w", u,
				map[bool]string{true: " or dbus", false: ""}[strings.HasPrefix(u, "dbus")], err)
		}
		if err := os.WriteFile(filepath.Join(dir, u), b, 0o644); err != nil {
			return err
		}
	}
	for _, m := range append(append([]string(nil), keptMounts...), o.Binds...) {
		d := filepath.Join(dir, escapePath(m)+".mount.d")
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(d, "systemdns-keep.conf"), []byte("[Unit]\nDefaultDependencies=no\n"), 0o644); err != nil {
			return err
		}
	}
	if o.Units != "" {
		if err := copyTree(o.Units, dir); err != nil {
			return fmt.Errorf("copy units from %s: %w", o.Units, err)
		}
	}
	return nil
}

// copyTree copies the files below src into dst (following symlinks, so a
// unit linked from elsewhere arrives as a file), keeping the layout.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if st.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

// escapePath is `systemd-escape --path`: the name of the mount unit for p,
// without its suffix.
func escapePath(p string) string {
	p = strings.Trim(filepath.Clean(p), "/")
	if p == "" {
		return "-"
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '/':
			b.WriteByte('-')
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == ':', c == '_',
			c == '.' && i > 0: // a leading dot would hide the unit
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String()
}
