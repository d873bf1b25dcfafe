// Package confine keeps an agent off its project's block of loopback ports:
// the runner applies it to itself at start, and everything it starts (tmux,
// the agent's CLI, its tools) inherits it for good, since Landlock domains
// and seccomp filters cannot be lifted. Binding a TCP port of the block
// fails with EACCES; every other port, port 0 (the kernel picks one) and
// connecting to the block stay as they were. Only runner imports it.
//
// Why the runner does it: the unit's SocketBindDeny= needs systemd built
// with BPF_FRAMEWORK, which Debian 12's systemd 252 is not, and it ignores
// the setting without a word; nftables can drop a squatter's replies but
// not its bind, and a bound port makes the daemon that owns it fail with
// EADDRINUSE when it restarts.
package confine

import (
	"fmt"
	"strings"
	"time"
)

// Ports is the reserved block, first and last included.
type Ports struct{ First, Last uint16 }

func (p Ports) String() string { return fmt.Sprintf("%d-%d", p.First, p.Last) }

// Report says what Apply enforced, so the runner can log it and put a
// warning where a person sees it (the unit's STATUS line).
type Report struct {
	Ports Ports
	// ABI is the kernel's Landlock ABI version; 0 when Landlock cannot be
	// used at all (see Problems).
	ABI int
	// Bind: the Landlock rule is enforced (TCP binds in the block fail).
	Bind bool
	// Protocols: Multipath TCP sockets and io_uring are refused, which
	// Landlock's TCP rule does not cover (see seccomp.go).
	Protocols bool
	// Rules is the number of allowed ports in the Landlock ruleset; Took
	// how long building and enforcing everything took.
	Rules int
	Took  time.Duration
	// Problems say why a part is not enforced.
	Problems []string
}

// Enforced reports whether the block is fully protected.
func (r Report) Enforced() bool { return r.Bind && r.Protocols }

// Warning is a one-line warning for logs and STATUS, or "" when enforced.
func (r Report) Warning() string {
	if r.Enforced() {
		return ""
	}
	return fmt.Sprintf("ports %s NOT protected from the agent: %s", r.Ports, strings.Join(r.Problems, "; "))
}

// Apply confines this process and its future children: no TCP bind in the
// block. A kernel or a unit that cannot enforce it is not an error (the
// agent must still run on older kernels): the Report says what is missing.
// An error means enforcement was possible and failed; the caller should not
// go on.
func Apply(p Ports) (Report, error) {
	start := time.Now()
	r := Report{Ports: p}
	if p.First == 0 || p.Last < p.First {
		return r, fmt.Errorf("confine: port block %s: want 1 <= first <= last", p)
	}
	abi, why := landlockABI()
	r.ABI = abi
	if why != "" {
		r.Problems = append(r.Problems, why)
		return r, nil
	}
	n, err := restrictBind(p)
	if err != nil {
		return r, fmt.Errorf("confine: ports %s: %w", p, err)
	}
	r.Bind, r.Rules = true, n
	why, err = refuseProtocols()
	switch {
	case err != nil:
		return r, fmt.Errorf("confine: ports %s: %w", p, err)
	case why != "":
		r.Problems = append(r.Problems, why)
	default:
		r.Protocols = true
	}
	r.Took = time.Since(start)
	return r, nil
}
