package tests

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/clemhq/clem/shared/testutil/netns"
)

// fleet is a provisioned-for-test project: a unique name, its clem.yaml
// and vault in dir, and the network namespace its egress table lives in.
type fleet struct {
	name   string
	dir    string
	env    []string // CLEM_KEY_FILE for the operator's vault
	netns  string   // /run/netns/<name> path
	secret string   // the real model key in the vault
	sysBin string   // binaries the units run, outside /tmp (provisionForSystemd)
}

// uniqueProject returns a project name no other test run uses.
func uniqueProject(prefix string) string {
	b := make([]byte, 3)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// newFleet writes clem.yaml from yaml (with PROJECT replaced), creates the
// operator's vault holding anthropic_api_key, and makes sure everything
// provision may have made is gone when the test ends.
func newFleet(t *testing.T, yaml string) *fleet {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("provision tests need root (CI runs as root)")
	}
	f := &fleet{name: uniqueProject("cp"), secret: "sk-ant-real-" + hex.EncodeToString([]byte(uniqueProject("k")))}
	f.dir = t.TempDir()
	// Traversable like an operator's checkout, so the files' own modes are
	// what keeps agents out of the vault and its key.
	os.Chmod(filepath.Dir(f.dir), 0o755)
	os.Chmod(f.dir, 0o755)
	f.env = []string{"CLEM_KEY_FILE=" + filepath.Join(f.dir, "age.key")}
	f.netns = netns.NewNamed(t)
	if yaml != "" {
		writeFile(t, filepath.Join(f.dir, "clem.yaml"), strings.ReplaceAll(yaml, "PROJECT", f.name))
	} else {
		writeFile(t, filepath.Join(f.dir, "clem.yaml"), "project: "+f.name+"\nagents:\n  lead: {}\n")
	}
	if r := runBin(t, f.dir, f.env, "", "clem", "vault", "init"); r.code != 0 {
		t.Fatalf("clem vault init: %s", r.stderr)
	}
	f.vaultSet(t, "anthropic_api_key", f.secret)
	t.Cleanup(func() { f.cleanup(t) })
	return f
}

func (f *fleet) vaultSet(t *testing.T, name, value string) {
	t.Helper()
	if r := runBin(t, f.dir, f.env, value+"\n", "clem", "vault", "set", name); r.code != 0 {
		t.Fatalf("clem vault set %s: %s", name, r.stderr)
	}
}

// clem runs the clem binary inside the fleet's network namespace, so the
// egress table never touches the host's firewall.
func (f *fleet) clem(t *testing.T, args ...string) result {
	t.Helper()
	full := append([]string{"--net=" + f.netns, filepath.Join(binDir, "clem")}, args...)
	cmd := exec.Command("nsenter", full...)
	return runCmd(t, cmd, f.dir, f.env)
}

// provision runs `clem provision` with the repo's unit templates and the
// test binaries, failing the test on a non-zero exit.
func (f *fleet) provision(t *testing.T, extra ...string) string {
	t.Helper()
	args := append([]string{"provision", "--templates", filepath.Join(repoRoot, "systemd"), "--bin-dir", binDir}, extra...)
	r := f.clem(t, args...)
	if r.code != 0 {
		t.Fatalf("clem %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func (f *fleet) user(agentOrRole string) string { return f.name + "-" + agentOrRole }

// cleanup deprovisions (in case the test failed before it did) and then
// checks, independently of the manifest, that nothing is left behind.
func (f *fleet) cleanup(t *testing.T) {
	f.clem(t, "deprovision", "--project", f.name)
	for _, p := range f.leftovers() {
		t.Errorf("left behind after deprovision: %s", p)
		os.RemoveAll(p)
	}
	for _, u := range f.leftoverUsers() {
		t.Errorf("user left behind after deprovision: %s", u)
		exec.Command("userdel", u).Run()
	}
}

// leftovers lists the project's paths that still exist.
func (f *fleet) leftovers() []string {
	var out []string
	for _, p := range []string{"/etc/clem/" + f.name, "/var/lib/clem/" + f.name, "/run/clem/" + f.name,
		"/etc/tmpfiles.d/clem-" + f.name + ".conf"} {
		if _, err := os.Lstat(p); err == nil {
			out = append(out, p)
		}
	}
	units, _ := filepath.Glob("/etc/systemd/system/clem-" + f.name + "*")
	out = append(out, units...)
	homes, _ := filepath.Glob("/home/" + f.name + "-*")
	return append(out, homes...)
}

// leftoverUsers lists users named after the project.
func (f *fleet) leftoverUsers() []string {
	b, _ := os.ReadFile("/etc/passwd")
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if name, _, _ := strings.Cut(l, ":"); strings.HasPrefix(name, f.name+"-") {
			out = append(out, name)
		}
	}
	return out
}

func userExists(name string) bool {
	_, err := user.Lookup(name)
	return err == nil
}

// runCmd runs cmd in dir with env added to a minimal environment.
func runCmd(t *testing.T, cmd *exec.Cmd, dir string, env []string) result {
	t.Helper()
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + dir}, env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", cmd.Args, err)
	}
	return result{out.String(), errb.String(), code}
}

// userIDs is a user's uid and primary gid.
func userIDs(t *testing.T, name string) (uid, gid uint32) {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("user %s: %v", name, err)
	}
	return parseID(u.Uid), parseID(u.Gid)
}

// groupID is a group's gid.
func groupID(t *testing.T, name string) uint32 {
	t.Helper()
	g, err := user.LookupGroup(name)
	if err != nil {
		t.Fatalf("group %s: %v", name, err)
	}
	return parseID(g.Gid)
}

// lookupIDs is owner's uid and group's gid.
func lookupIDs(t *testing.T, owner, group string) (uint32, uint32) {
	t.Helper()
	uid, _ := userIDs(t, owner)
	return uid, groupID(t, group)
}

func parseID(s string) uint32 {
	n, _ := strconv.ParseUint(s, 10, 32)
	return uint32(n)
}
