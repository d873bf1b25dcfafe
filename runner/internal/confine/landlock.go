package confine

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

// minABI is the first Landlock ABI with network rules.
const minABI = 4

// landlockABI returns the kernel's Landlock ABI version, or why it cannot
// restrict binds.
func landlockABI() (int, string) {
	abi, err := llsys.LandlockGetABIVersion()
	switch {
	case errors.Is(err, syscall.EPERM):
		// A seccomp filter refused it: systemd's SystemCallFilter= with
		// SystemCallErrorNumber=EPERM when the unit does not allow it.
		return 0, "landlock_create_ruleset refused (EPERM): the unit's SystemCallFilter= must allow landlock_create_ruleset, landlock_add_rule and landlock_restrict_self"
	case errors.Is(err, syscall.ENOSYS), errors.Is(err, syscall.EOPNOTSUPP):
		return 0, "this kernel has no Landlock (not built in, or not in the lsm= boot list)"
	case err != nil:
		return 0, fmt.Sprintf("Landlock version query: %v", err)
	case abi < minABI:
		return abi, fmt.Sprintf("this kernel's Landlock ABI is %d; TCP bind rules need %d (Linux 6.7)", abi, minABI)
	}
	return abi, ""
}

// restrictBind makes TCP bind(2) a handled access and allows it on every
// port but the block. Landlock rules only allow, one port each, so this is
// 65536 minus the block's size rules; port 0 is among them, so binding to
// a port the kernel picks keeps working. connect(2) is not handled and so
// not restricted, nor is the filesystem.
//
// go-landlock (the Landlock maintainers' library) rather than raw system
// calls: it applies the domain to every thread of the Go runtime at once
// (landlock_restrict_self only restricts the calling thread; before ABI 8
// the library does it through libpsx) and sets no_new_privs on each.
func restrictBind(p Ports) (int, error) {
	rules := make([]landlock.Rule, 0, 1<<16-(int(p.Last)-int(p.First)+1))
	for port := 0; port < 1<<16; port++ {
		if port < int(p.First) || port > int(p.Last) {
			rules = append(rules, landlock.BindTCP(uint16(port)))
		}
	}
	cfg := landlock.Config{HandledAccessNet: landlock.AccessNetSet(llsys.AccessNetBindTCP)}
	if err := cfg.RestrictNet(rules...); err != nil {
		return 0, fmt.Errorf("landlock: %w", err)
	}
	return len(rules), nil
}

// Supported reports this kernel's Landlock ABI and, when it cannot
// restrict binds here, why; it restricts nothing (for `runner check`).
func Supported() (abi int, problem string) { return landlockABI() }
