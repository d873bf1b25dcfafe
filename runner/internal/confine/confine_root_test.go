package confine

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"golang.org/x/sys/unix"

	"github.com/clemhq/clem/shared/testutil/netns"
	"github.com/clemhq/clem/shared/testutil/users"
)

// The test binary re-executes itself as an unprivileged user in one of
// these modes (helperEnv names it), like the runner in its unit.
const (
	helperEnv = "CLEM_CONFINE_HELPER"
	// modeNone confines nothing: the control.
	modeNone = "none"
	// modeApply is the runner's start: Apply, probe, then start modeChild.
	modeApply = "apply"
	// modeChild only probes: what it can do it inherited.
	modeChild = "child"
	// modeLandlockOnly enforces the Landlock rule without the seccomp
	// filter: the control for Multipath TCP and io_uring.
	modeLandlockOnly = "landlock-only"
	// modeUnitNoLandlock and modeUnitNoSeccomp first load a filter that
	// refuses system calls with EPERM, as a unit's SystemCallFilter= that
	// does not list them does, then Apply.
	modeUnitNoLandlock = "unit-without-landlock"
	modeUnitNoSeccomp  = "unit-without-seccomp"
)

// helperResult is what a helper prints on stdout.
type helperResult struct {
	Report Report
	Err    string
	Probes map[string]string
	Child  map[string]string
}

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		if err := helper(mode); err != nil {
			fmt.Fprintf(os.Stderr, "helper %s: %v\n", mode, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func helper(mode string) error {
	// The unit's NoNewPrivileges=yes.
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	var res helperResult
	var err error
	switch mode {
	case modeNone, modeChild:
	case modeApply:
		res.Report, err = Apply(testPorts)
	case modeLandlockOnly:
		res.Report.Rules, err = restrictBind(testPorts)
	case modeUnitNoLandlock:
		if err := unitFilter("landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self"); err != nil {
			return err
		}
		res.Report, err = Apply(testPorts)
	case modeUnitNoSeccomp:
		if err := unitFilter("seccomp"); err != nil {
			return err
		}
		res.Report, err = Apply(testPorts)
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		res.Err = err.Error()
	}
	res.Probes = runProbes()
	if mode == modeApply {
		cmd := exec.Command("/proc/self/exe")
		cmd.Env = []string{helperEnv + "=" + modeChild}
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("child: %w", err)
		}
		var child helperResult
		if err := json.Unmarshal(out, &child); err != nil {
			return fmt.Errorf("child's output %q: %w", out, err)
		}
		res.Child = child.Probes
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// unitFilter refuses names with EPERM, as systemd does for the system
// calls a unit's SystemCallFilter= leaves out (SystemCallErrorNumber=EPERM).
func unitFilter(names ...string) error {
	return seccomp.LoadFilter(seccomp.Filter{
		NoNewPrivs: true,
		Flag:       seccomp.FilterFlagTSync,
		Policy: seccomp.Policy{
			DefaultAction: seccomp.ActionAllow,
			Syscalls:      []seccomp.SyscallGroup{{Action: seccomp.ActionErrno, Names: names}},
		},
	})
}

// expect builds a probe table: every probe "ok" but those named.
func expect(except map[string]string) map[string]string {
	m := make(map[string]string, len(probes))
	for _, p := range probes {
		m[p.name] = "ok"
		if v, ok := except[p.name]; ok {
			m[p.name] = v
		}
	}
	return m
}

var (
	blockBinds = map[string]string{
		"bind 127.0.0.1 first port of the block": "EACCES",
		"bind 127.0.0.1 last port of the block":  "EACCES",
		"bind 0.0.0.0 in the block":              "EACCES",
		"bind [::] in the block":                 "EACCES",
		"bind [::1] in the block":                "EACCES",
	}
	protocols = map[string]string{
		"bind an MPTCP socket in the block":         "ENOPROTOOPT",
		"MPTCP socket, protocol with high bits set": "ENOPROTOOPT",
		"io_uring_setup":                            "EPERM",
	}
	confined     = expect(merge(blockBinds, protocols))
	landlockOnly = expect(blockBinds)
	unconfined   = expect(nil)
)

func merge(a, b map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

// TestConfineAsAgent: an unprivileged user with no_new_privs, as in the
// agent's unit, cannot bind a TCP port of the block (IPv4 and IPv6,
// loopback and wildcard, plain and Multipath TCP) once Apply ran, nor can
// a process it starts afterwards; ports outside the block, port 0 and
// connect() into the block still work. Without Apply every bind works, and
// Landlock without the seccomp filter lets an MPTCP socket squat the block.
// A unit that refuses the system calls gets a warning, not a pretence.
func TestConfineAsAgent(t *testing.T) {
	u := users.Add(t, "clconf")
	exe := users.ExportTestBinary(t)
	for _, tc := range []struct {
		mode       string
		probes     map[string]string
		child      map[string]string
		bind, prot bool
		warning    string // in Report.Warning(); "" = none
	}{
		{mode: modeNone, probes: unconfined},
		{mode: modeApply, probes: confined, child: confined, bind: true, prot: true},
		{mode: modeLandlockOnly, probes: landlockOnly},
		{mode: modeUnitNoLandlock, probes: unconfined,
			warning: "ports 3128-3159 NOT protected from the agent: landlock_create_ruleset refused (EPERM): the unit's SystemCallFilter= must allow"},
		{mode: modeUnitNoSeccomp, probes: landlockOnly, bind: true,
			warning: "Multipath TCP sockets can still bind the block; the unit's SystemCallFilter= must allow seccomp"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			res := runInNamespace(t, exe, u, tc.mode)
			if res.Err != "" {
				t.Fatalf("helper's confinement failed: %s", res.Err)
			}
			diff(t, "probe", res.Probes, tc.probes)
			if tc.child != nil {
				diff(t, "child's probe", res.Child, tc.child)
			}
			if tc.mode == modeLandlockOnly || tc.mode == modeNone {
				return
			}
			r := res.Report
			if r.Bind != tc.bind || r.Protocols != tc.prot {
				t.Errorf("Report Bind=%v Protocols=%v, want %v %v (%+v)", r.Bind, r.Protocols, tc.bind, tc.prot, r)
			}
			if w := r.Warning(); (tc.warning == "") != (w == "") || !strings.Contains(w, tc.warning) {
				t.Errorf("Warning() = %q, want one containing %q", w, tc.warning)
			}
			if r.Bind {
				if want := 1<<16 - (last - first + 1); r.Rules != want {
					t.Errorf("Rules = %d, want %d", r.Rules, want)
				}
				t.Logf("Landlock ABI %d, %d rules, built and enforced in %v", r.ABI, r.Rules, r.Took)
			}
		})
	}
}

// runInNamespace runs the helper in a fresh network namespace where root
// listens on a port of the block.
func runInNamespace(t *testing.T, exe string, u users.User, mode string) (res helperResult) {
	t.Helper()
	netns.Run(t, func() {
		ln, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", listenPort))
		if err != nil {
			t.Fatalf("root listener in the block: %v", err)
		}
		defer ln.Close()
		res = runHelper(t, exe, u, mode)
	})
	return res
}

func runHelper(t *testing.T, exe string, u users.User, mode string) helperResult {
	t.Helper()
	cmd := exec.Command(exe)
	cmd.Dir = "/"
	cmd.Env = []string{helperEnv + "=" + mode}
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID}}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper %s as %s: %v", mode, u.Name, err)
	}
	var res helperResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("helper %s printed %q: %v", mode, out, err)
	}
	return res
}

func diff(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for _, p := range probes {
		if got[p.name] != want[p.name] {
			t.Errorf("%s %q = %s, want %s", what, p.name, got[p.name], want[p.name])
		}
	}
}
