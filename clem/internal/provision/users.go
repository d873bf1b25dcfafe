package provision

import (
	"errors"
	"fmt"
	"os/user"
	"path/filepath"
	"strconv"

	"github.com/clemhq/clem/clem/internal/hostcmd"
)

// lookupUser returns the user's uid and GECOS comment; ok is false when no
// such user exists.
func lookupUser(name string) (uid uint32, comment string, ok bool, err error) {
	u, err := user.Lookup(name)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		return 0, "", false, nil
	}
	if err != nil {
		return 0, "", false, fmt.Errorf("look up user %s: %w", name, err)
	}
	id, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return 0, "", false, fmt.Errorf("user %s has uid %q", name, u.Uid)
	}
	return uint32(id), u.Name, true, nil
}

// UID looks up a user for Inputs.UID.
func UID(name string) (uint32, bool) {
	uid, _, ok, err := lookupUser(name)
	return uid, ok && err == nil
}

// ids resolves an owner and group name ("" = root) to numbers.
func ids(owner, group string) (int, int, error) {
	uid, gid := 0, 0
	if owner != "" {
		u, err := user.Lookup(owner)
		if err != nil {
			return 0, 0, fmt.Errorf("owner %s: %w", owner, err)
		}
		uid, _ = strconv.Atoi(u.Uid)
	}
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return 0, 0, fmt.Errorf("group %s: %w", group, err)
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	return uid, gid, nil
}

// checkUser says whether u needs creating, and refuses a user of that name
// that clem did not make: it is never touched. A group of that name
// without the user belongs to someone else too (useradd --user-group would
// fail on it).
func checkUser(u User) (create bool, err error) {
	_, comment, ok, err := lookupUser(u.Name)
	if err != nil {
		return false, err
	}
	if !ok {
		if _, gerr := user.LookupGroup(u.Name); gerr == nil {
			return false, fmt.Errorf("group %s already exists without its user; clem would make both: rename the project or agent in clem.yaml, or remove that group yourself", u.Name)
		}
		return true, nil
	}
	if comment != u.Comment {
		return false, fmt.Errorf("user %s already exists and is not clem's (its comment is %q, clem's users say %q): "+
			"rename the project or agent in clem.yaml, or remove that user yourself", u.Name, comment, u.Comment)
	}
	return false, nil
}

// createUser runs useradd: agents get a home (their work lives there),
// daemons are system users without one. Neither gets a login shell: the
// agent's unit gives tmux and the CLI a real $SHELL, and nothing else
// should start a shell as either (logins.go).
func createUser(u User) error {
	args := []string{"--comment", u.Comment, "--user-group", "--shell", u.Shell}
	if u.Agent {
		// No subordinate uid/gid ranges: with them (and newuidmap), an
		// agent could run processes as uids its egress rule does not name.
		args = append(args, "--create-home", "--home-dir", u.Home,
			"-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0")
	} else {
		args = append(args, "--system", "--no-create-home", "--home-dir", "/nonexistent")
	}
	args = append(args, u.Name)
	return hostcmd.Run("useradd", args...)
}

// shellChange describes how an existing user's shell differs from u's; ""
// when it matches (or the user does not exist yet).
func shellChange(u User) string {
	cur := loginShell(u.Name)
	if cur == "" || cur == u.Shell {
		return ""
	}
	return "shell " + cur + " -> " + u.Shell
}

// deleteUser runs userdel (its home is a Dir, removed separately); a user
// already gone is not an error.
func deleteUser(name string) error {
	_, _, ok, err := lookupUser(name)
	if err != nil || !ok {
		return err
	}
	return hostcmd.Run("userdel", name)
}

func nologin() string {
	if p := hostcmd.Path("nologin"); filepath.IsAbs(p) {
		return p
	}
	return "/bin/false"
}
