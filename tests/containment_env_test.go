package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clemhq/clem/shared/audit"
)

// containment holds what the matrix needs: the project's paths, the
// agents' identities and the listeners root keeps as controls.
type containment struct {
	t        *testing.T // the matrix's test, for probes run from attempts
	f        *fleet
	probeBin string
	caFiles  []string // the lead's CA bundle and the test upstream's CA
	lead     *user.User
	etc      string
	state    string
	rootPort int            // a loopback listener of another user (root)
	mcpPort  int            // dev's sidecar port, which lead is not subscribed to
	leadKey  string         // lead's placeholder for the model key
	pids     map[string]int // daemons the matrix started, by binary
}

func newContainment(t *testing.T, f *fleet, probeBin, upstreamCA string) *containment {
	t.Helper()
	cm := &containment{t: t, f: f, probeBin: probeBin, etc: "/etc/clem/" + f.name, state: "/var/lib/clem/" + f.name}
	var err error
	if cm.lead, err = user.Lookup(f.user("lead")); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(binDir, "upstream-ca-"+f.name+".pem")
	if err := copyFile(upstreamCA, ca, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(ca) })
	cm.caFiles = []string{cm.etc + "/agents/lead/ca-bundle.pem", ca}
	env, _ := os.ReadFile(cm.etc + "/agents/lead/env")
	m := regexp.MustCompile(`ANTHROPIC_API_KEY="([^"]+)"`).FindSubmatch(env)
	if m == nil {
		t.Fatalf("lead's env file has no model placeholder:\n%s", env)
	}
	cm.leadKey = string(m[1])
	cm.mcpPort = cmProxyPort + 3
	cm.listen(t)
	// A file in the other agent's home.
	notes := "/home/" + f.user("dev") + "/notes.txt"
	writeFile(t, notes, "dev's notes")
	uid, gid := userIDs(t, f.user("dev"))
	os.Chown(notes, int(uid), int(gid))
	return cm
}

// listen sets up, inside the namespace, the targets root can reach: a
// public-looking addresses on lo, TCP and UDP listeners,
// and unprivileged ICMP sockets for everyone (so a refused ping is the
// rule's doing, not the socket type's).
func (cm *containment) listen(t *testing.T) {
	t.Helper()
	for _, args := range [][]string{
		{"addr", "add", cmPublic4 + "/32", "dev", "lo"},
		{"addr", "add", cmPublic6 + "/128", "dev", "lo", "nodad"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/ping_group_range", []byte("0 2147483647"), 0o644); err != nil {
		t.Fatalf("allow unprivileged ICMP in the namespace: %v", err)
	}
	root := tcpListen(t, "127.0.0.1:0")
	cm.rootPort = root.Addr().(*net.TCPAddr).Port
	for _, a := range []string{cmPublic4 + ":443", cmPublic4 + ":80", "[" + cmPublic6 + "]:443",
		fmt.Sprintf("[::1]:%d", cmProxyPort), fmt.Sprintf("127.0.0.1:%d", cm.mcpPort)} {
		tcpListen(t, a)
	}
	for _, a := range []string{cmPublic4 + ":53", "127.0.0.1:5300"} {
		c, err := net.ListenPacket("udp", a)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		go func() {
			buf := make([]byte, 512)
			for {
				n, from, err := c.ReadFrom(buf)
				if err != nil {
					return
				}
				c.WriteTo(buf[:n], from)
			}
		}()
	}
}

func tcpListen(t *testing.T, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln
}

// startDaemons runs pipelock and agent-vault as their users, as their units
// would: pipelock with agent-vault's group for the hand-off socket,
// agent-vault with its credentials in a directory only it can read. It
// returns once pipelock accepts on proxyPort.
func (cm *containment) startDaemons(t *testing.T, proxyPort int) {
	t.Helper()
	f := cm.f
	pl := cm.cred(t, f.user("pipelock"), f.user("vault"))
	av := cm.cred(t, f.user("vault"))
	creds := cm.credCopy(t, cm.etc+"/credentials/vault", av)
	vd := startCmdAs(t, av, []string{"CREDENTIALS_DIRECTORY=" + creds}, "agent-vault", "run", "-c", cm.etc+"/agent-vault.toml")
	sock := "/run/clem/" + f.name + "/vault/vault.sock"
	waitFor(t, func() bool { _, err := os.Stat(sock); return err == nil }, vd)
	cm.started("agent-vault", vd)
	pd := cm.startPipelock(t, pl)
	cm.started("pipelock", pd)
	waitFor(t, func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", proxyPort), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, pd)
}

// started remembers a daemon's pid (its peak memory is judged by some
// attempts, and the last one stops pipelock).
func (cm *containment) started(name string, d *daemon) {
	if cm.pids == nil {
		cm.pids = map[string]int{}
	}
	cm.pids[name] = d.cmd.Process.Pid
}

// startCoordAndSidecar runs coord and the db sidecar as their users, as
// their units would, and waits for their sockets.
func (cm *containment) startCoordAndSidecar(t *testing.T) {
	t.Helper()
	co := cm.cred(t, cm.f.user("coord"))
	creds := cm.credCopy(t, cm.etc+"/credentials/coord", co)
	d := startCmdAs(t, co, []string{"CREDENTIALS_DIRECTORY=" + creds}, "coord", "run", "-c", cm.etc+"/coord.toml")
	sock := "/run/clem/" + cm.f.name + "/coord/coord.sock"
	waitFor(t, func() bool { _, err := os.Stat(sock); return err == nil }, d)
	cm.started("coord", d)
	cm.startSidecar(t)
}

// rebindHosts is the /etc/hosts pipelock sees in the matrix: names on the
// agents' list (*.rebind.test) that a resolver an attacker controls could
// point into the ranges the SSRF guard must refuse (issue 15 item 9), and
// one that embeds a public IPv4 (the control).
var rebindHosts = []struct{ name, addr, what string }{
	{"nat64local", "64:ff9b:1::7f00:1", "local-use NAT64 (64:ff9b:1::/48) embedding 127.0.0.1"},
	{"compat", "::7f00:1", "IPv4-compatible ::/96 embedding 127.0.0.1"},
	{"teredo", "2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo 2001::/32 whose client is 127.0.0.1"},
	{"sitelocal", "fec0::1", "site-local fec0::/10"},
	{"discard", "100::1", "discard-only 100::/64"},
	{"doc", "2001:db8::5", "documentation 2001:db8::/32"},
	{"public64", "64:ff9b::8c52:7003", "well-known NAT64 of a public IPv4 (control)"},
}

// startPipelock runs pipelock as its user in a private mount namespace
// whose /etc/hosts is rebindHosts.
func (cm *containment) startPipelock(t *testing.T, cred *syscall.Credential) *daemon {
	t.Helper()
	var hosts strings.Builder
	hosts.WriteString("127.0.0.1 localhost\n::1 localhost\n")
	for _, h := range rebindHosts {
		fmt.Fprintf(&hosts, "%s %s.rebind.test\n", h.addr, h.name)
	}
	path := filepath.Join(t.TempDir(), "hosts")
	writeFile(t, path, hosts.String())
	os.Chmod(filepath.Dir(path), 0o755)
	var groups []string
	for _, g := range cred.Groups {
		groups = append(groups, strconv.Itoa(int(g)))
	}
	const script = `h=$0 u=$1 g=$2 gs=$3; shift 3
mount --bind "$h" /etc/hosts && exec setpriv --reuid="$u" --regid="$g" --groups="$gs" -- prlimit --nofile=` + "%d:%d" + ` -- "$@"`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--", "sh", "-c", fmt.Sprintf(script, matrixFiles, matrixFiles),
		path, strconv.Itoa(int(cred.Uid)), strconv.Itoa(int(cred.Gid)), strings.Join(groups, ","),
		filepath.Join(binDir, "pipelock"), "run", "-c", cm.etc+"/pipelock.toml")
	cmd.Env = []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin"}
	return startCmd(t, cmd)
}

// credCopy copies a unit's credential files into a directory only owner
// can read, as LoadCredential= would.
func (cm *containment) credCopy(t *testing.T, src string, owner *syscall.Credential) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "clem-creds-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chown(dir, int(owner.Uid), int(owner.Gid))
	entries, _ := os.ReadDir(src)
	for _, e := range entries {
		dst := filepath.Join(dir, e.Name())
		if err := copyFile(filepath.Join(src, e.Name()), dst, 0o400); err != nil {
			t.Fatal(err)
		}
		os.Chown(dst, int(owner.Uid), int(owner.Gid))
	}
	return dir
}

// matrixFiles is the open-files limit daemons started by the tests get:
// lower than their units' (16-64k), so that the matrix's floods (5000
// connections) would exhaust a daemon without per-uid caps, and prove the
// caps. (prlimit on a running daemon would need CAP_SYS_RESOURCE, which
// CI's root may not have; lowering one's own limit needs nothing.)
const matrixFiles = 4096

// startCmdAs starts one of the built binaries with the given credential and
// environment (besides a minimal PATH).
// Daemons run under prlimit with matrixFiles open files (the same pid:
// prlimit execs them).
func startCmdAs(t *testing.T, cred *syscall.Credential, env []string, name string, args ...string) *daemon {
	t.Helper()
	nofile := fmt.Sprintf("--nofile=%d:%d", matrixFiles, matrixFiles)
	cmd := exec.Command("prlimit", append([]string{nofile, "--", filepath.Join(binDir, name)}, args...)...)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	return startCmd(t, cmd)
}

// cred is a user's credential with extra supplementary groups.
func (cm *containment) cred(t *testing.T, name string, groups ...string) *syscall.Credential {
	t.Helper()
	uid, gid := userIDs(t, name)
	c := &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}
	for _, g := range groups {
		c.Groups = append(c.Groups, groupID(t, g))
	}
	return c
}

// asLead runs p in a new process as the lead agent's uid.
func (cm *containment) asLead(t *testing.T, p probe) outcome {
	t.Helper()
	return cm.as(t, cm.lead.Username, p)
}

// as runs p in a new process as the named user's uid.
func (cm *containment) as(t *testing.T, name string, p probe) outcome {
	t.Helper()
	out, err := cm.probeCmd(t, name, p).Output()
	var o outcome
	if jerr := json.Unmarshal(out, &o); jerr != nil {
		return outcome{Err: fmt.Sprintf("probe process: %v %v: %s", err, jerr, out)}
	}
	return o
}

// probeCmd is the probe process for p as the named user.
func (cm *containment) probeCmd(t *testing.T, name string, p probe) *exec.Cmd {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := json.Marshal(p)
	cmd := exec.Command(cm.probeBin)
	cmd.Env = []string{probeEnv + "=" + string(spec), "PATH=/usr/bin:/bin", "HOME=" + u.HomeDir}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cm.cred(t, name)}
	return cmd
}

// try makes one attempt (and its control) and records what happened.
func (cm *containment) try(t *testing.T, a *attempt) {
	t.Helper()
	if a.run != nil {
		held, got := a.run()
		a.held, a.got = held, strings.Join(strings.Fields(got), " ") // one line in the table
		return
	}
	if a.control {
		if c := a.probe.run(); !c.OK {
			a.got, a.held = "control failed: root could not do it either: "+c.Err, false
			return
		}
	}
	o := cm.asLead(t, a.probe)
	defer func() { a.got = strings.Join(strings.Fields(a.got), " ") }()
	want := a.want
	if want == nil {
		want = func(o outcome) bool { return !o.OK }
	}
	a.held = want(o)
	a.got = describe(o)
}

func describe(o outcome) string {
	var parts []string
	if o.OK {
		parts = append(parts, "succeeded")
	} else {
		parts = append(parts, "failed")
	}
	if o.Status != 0 {
		parts = append(parts, "HTTP "+strconv.Itoa(o.Status))
	}
	if o.Err != "" {
		e := o.Err
		if i := strings.LastIndex(e, ": "); i > 0 && len(e) > 60 {
			e = e[i+2:]
		}
		parts = append(parts, e)
	}
	return strings.Join(strings.Fields(strings.Join(parts, ", ")), " ")
}

// checkAudit waits until every attempt that must be audited is, then marks
// the ones that are not.
func (cm *containment) checkAudit(t *testing.T, rows []*attempt) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var recs []audit.Record
		for _, role := range []string{"pipelock", "vault", "coord", "mcp-db"} {
			recs = append(recs, allAuditRecords(cm.state+"/"+role+"/audit.log")...)
		}
		missing := 0
		for _, a := range rows {
			if a.audited != nil && !anyRecord(recs, a.audited) {
				missing++
				if time.Now().After(deadline) && a.held {
					a.held = false
					a.got += "; NOT AUDITED"
				}
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func auditRecords(path string) []audit.Record {
	b, _ := os.ReadFile(path)
	var out []audit.Record
	for _, l := range strings.Split(string(b), "\n") {
		if r, err := audit.Parse([]byte(l)); err == nil && l != "" {
			out = append(out, r)
		}
	}
	return out
}

func anyRecord(recs []audit.Record, ok func(audit.Record) bool) bool {
	for _, r := range recs {
		if ok(r) {
			return true
		}
	}
	return false
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}
