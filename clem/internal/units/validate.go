package units

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// Every value lands on a line of a unit file. systemd splits lists on
// spaces, expands % specifiers, reads ":" as a separator in BindPaths= and
// LoadCredential=, and a newline would start a directive of its own; so
// names and paths are held to plain characters, and only command lines
// (escaped when rendered) may hold more.
var (
	nameRE    = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	credRE    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$`)
	pathRE    = regexp.MustCompile(`^(/[A-Za-z0-9_.+@-]+)+$`)
	serviceRE = regexp.MustCompile(`^[A-Za-z0-9_.@-]+\.service$`)
	targetRE  = regexp.MustCompile(`^[A-Za-z0-9_.@-]+\.target$`)
	memoryRE  = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?[KMGT]?|[0-9]{1,3}(\.[0-9]+)?%|infinity)$`)
	cpuRE     = regexp.MustCompile(`^[0-9]{1,6}(\.[0-9]{1,2})?%$`)
	goMemRE   = regexp.MustCompile(`^[0-9]{1,9}MiB$`)
)

// maxLimit bounds TasksMax= and LimitNOFILE= (the kernel's own ceilings are
// lower still; systemd-analyze verify catches the rest).
const maxLimit = 1 << 30

func validate(d Data) error {
	var errs []error
	check := func(where, field, value string, ok bool, want string) {
		if !ok {
			errs = append(errs, fmt.Errorf("%s: %s %q: want %s", where, field, value, want))
		}
	}
	name := func(where, field, v string) {
		check(where, field, v, nameRE.MatchString(v), "lower-case letters, digits, - and _")
	}
	path := func(where, field, v string) {
		check(where, field, v, pathRE.MatchString(v) && filepath.Clean(v) == v, "a clean absolute path of letters, digits and ._+@-")
	}
	command := func(where, field, v string) {
		prog, _, _ := strings.Cut(v, " ")
		ok := pathRE.MatchString(prog) && !strings.ContainsFunc(v, isControl) && !strings.HasPrefix(v, " ")
		check(where, field, v, ok, "an absolute program path and its arguments on one line")
	}
	units := map[string]bool{}
	unit := func(where, v string, re *regexp.Regexp, want string) {
		check(where, "unit", v, re.MatchString(v), want)
		if units[v] {
			errs = append(errs, fmt.Errorf("%s: unit %s appears twice", where, v))
		}
		units[v] = true
	}
	after := func(where string, list []string) {
		for _, u := range list {
			check(where, "After", u, serviceRE.MatchString(u) || targetRE.MatchString(u), "a unit name")
		}
	}

	name("project", "Project", d.Project)
	if d.PortFirst < 1 || d.PortLast > 65535 || d.PortFirst > d.PortLast {
		errs = append(errs, fmt.Errorf("project: port block %d-%d: want 1 <= first <= last <= 65535", d.PortFirst, d.PortLast))
	}
	limit := func(where, field string, n int) {
		check(where, field, fmt.Sprint(n), n > 0 && n <= maxLimit, "a count from 1 to 2^30")
	}
	memory := func(where, v string) {
		check(where, "MemoryMax", v, memoryRE.MatchString(v), `a size ("4G", "512M"), a percentage ("50%") or "infinity"`)
	}
	unit("project", d.Target, targetRE, "a name ending in .target")
	path("project", "BinDir", d.BinDir)
	for i, dm := range d.Daemons {
		where := fmt.Sprintf("daemon %d (%s)", i, dm.Unit)
		name(where, "Role", dm.Role)
		name(where, "User", dm.User)
		unit(where, dm.Unit, serviceRE, "a name ending in .service")
		path(where, "Exec", dm.Exec)
		path(where, "Config", dm.Config)
		for _, c := range dm.Credentials {
			check(where, "credential name", c.Name, credRE.MatchString(c.Name), "letters, digits and _.- (a file name)")
			path(where, "credential path", c.Path)
		}
		for _, p := range dm.ReadWritePaths {
			path(where, "ReadWritePaths", p)
		}
		for _, p := range dm.InaccessiblePaths {
			path(where, "InaccessiblePaths", p)
		}
		for _, g := range dm.SupplementaryGroups {
			name(where, "SupplementaryGroups", g)
		}
		after(where, dm.After)
		memory(where, dm.MemoryMax)
		limit(where, "TasksMax", dm.TasksMax)
		limit(where, "LimitNOFILE", dm.LimitNOFILE)
		if dm.GoMemLimit != "" {
			check(where, "GoMemLimit", dm.GoMemLimit, goMemRE.MatchString(dm.GoMemLimit), `mebibytes ("400MiB")`)
		}
	}
	if e := d.Egress; e != nil {
		unit("egress", e.Unit, serviceRE, "a name ending in .service")
		command("egress", "Exec", e.Exec)
	}
	for i, a := range d.Agents {
		where := fmt.Sprintf("agent %d (%s)", i, a.Unit)
		name(where, "Key", a.Key)
		name(where, "User", a.User)
		unit(where, a.Unit, serviceRE, "a name ending in .service")
		path(where, "Home", a.Home)
		path(where, "EnvFile", a.EnvFile)
		path(where, "StateDir", a.StateDir)
		command(where, "RunnerExec", a.RunnerExec)
		if a.VerifyExec != "" {
			command(where, "VerifyExec", a.VerifyExec)
		}
		memory(where, a.MemoryMax)
		limit(where, "TasksMax", a.TasksMax)
		limit(where, "LimitNOFILE", a.LimitNOFILE)
		if a.CPUQuota != "" {
			check(where, "CPUQuota", a.CPUQuota, cpuRE.MatchString(a.CPUQuota), `a percentage of one core ("150%" for 1.5 cores)`)
		}
		after(where, a.After)
	}
	return errors.Join(errs...)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
