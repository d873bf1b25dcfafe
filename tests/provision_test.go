package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/google/nftables"

	"github.com/clemhq/clem/shared/testutil/netns"
)

const twoAgents = `project: PROJECT
egress:
  domains: [github.com, "*.github.com"]
  proxy_port: 23128
agents:
  lead:
    role: lead engineer
    model: sonnet
  dev:
    role: developer
    model: sonnet
`

// lifecycleYAML adds a sidecar with its own secret, used by dev only.
const lifecycleYAML = twoAgents + `    sidecars: [db]
secrets:
  db_password:
    disposition: sidecar
sidecars:
  db:
    command: [/bin/cat]
    secrets: [db_password]
`

// TestProvisionLifecycle: provision a two-agent project into a network
// namespace, check what it made, provision again (no change), change one
// agent's model (only its runner config changes), then deprovision and
// check nothing is left: no user, file, table or unit.
func TestProvisionLifecycle(t *testing.T) {
	f := newFleet(t, lifecycleYAML)
	const unused = "sk-unused-never-installed-7d1e"
	f.vaultSet(t, "unused_token", unused)
	const dbPassword = "pg-real-password-51c0"
	f.vaultSet(t, "db_password", dbPassword)

	dry := f.clem(t, "provision", "--dry-run", "--templates", filepath.Join(repoRoot, "systemd"), "--bin-dir", binDir)
	if dry.code != 0 || !strings.Contains(dry.stdout, "+ user       "+f.user("lead")) {
		t.Fatalf("provision --dry-run: exit %d\n%s%s", dry.code, dry.stdout, dry.stderr)
	}
	if userExists(f.user("lead")) || len(f.leftovers()) > 0 {
		t.Fatalf("--dry-run changed the host: user exists=%v, paths %v", userExists(f.user("lead")), f.leftovers())
	}

	out := f.provision(t)
	t.Logf("first provision:\n%s", out)
	for _, u := range []string{"pipelock", "vault", "mcp-db", "coord", "watchdog", "lead", "dev"} {
		if !userExists(f.user(u)) {
			t.Errorf("user %s missing after provision", f.user(u))
		}
	}
	for _, file := range []string{"/etc/subuid", "/etc/subgid"} {
		if b, err := os.ReadFile(file); err == nil && strings.Contains(string(b), f.user("lead")+":") {
			t.Errorf("%s gives agent %s a subordinate id range", file, f.user("lead"))
		}
	}
	etc := "/etc/clem/" + f.name
	checkOwner(t, etc+"/agents/lead/runner.toml", "root", f.user("lead"), 0o640)
	checkOwner(t, etc+"/agents/lead/env", "root", f.user("lead"), 0o640)
	checkOwner(t, etc+"/credentials/vault/anthropic_api_key", "root", "root", 0o600)
	checkOwner(t, etc+"/agent-vault.toml", "root", f.user("vault"), 0o640)
	checkOwner(t, "/var/lib/clem/"+f.name+"/vault/ca/ca-key.pem", f.user("vault"), f.user("vault"), 0o600)
	if b, _ := os.ReadFile(etc + "/credentials/vault/anthropic_api_key"); string(b) != f.secret {
		t.Errorf("credential holds %d bytes, want the vault's value", len(b))
	}
	env, _ := os.ReadFile(etc + "/agents/lead/env")
	if !regexp.MustCompile(`ANTHROPIC_API_KEY="__clem_lead_anthropic_api_key_[0-9a-f]{16}__"`).Match(env) ||
		!strings.Contains(string(env), `HTTPS_PROXY="http://127.0.0.1:23128"`) {
		t.Errorf("lead's env file lacks its placeholder or proxy:\n%s", env)
	}
	// The real key is in exactly one file (the vault's credential); the
	// unused secret is nowhere.
	holders := filesContaining(t, []byte(f.secret), etc, "/var/lib/clem/"+f.name, "/home/"+f.user("lead"), "/etc/systemd/system")
	if len(holders) != 1 || holders[0] != etc+"/credentials/vault/anthropic_api_key" {
		t.Errorf("the model key is in %v; want only the vault's credential file", holders)
	}
	if h := filesContaining(t, []byte(dbPassword), etc, "/var/lib/clem/"+f.name, "/home/"+f.user("dev"), "/etc/systemd/system"); len(h) != 1 || h[0] != etc+"/credentials/mcp-db/db_password" {
		t.Errorf("the sidecar's secret is in %v; want only the sidecar's credential file", h)
	}
	if h := filesContaining(t, []byte(unused), etc, "/var/lib/clem/"+f.name, "/etc/systemd/system"); len(h) > 0 {
		t.Errorf("a secret nothing uses was installed: %v", h)
	}
	unit, err := os.ReadFile("/etc/systemd/system/clem-" + f.name + "-agent-lead.service")
	if err != nil || !bytes.Contains(unit, []byte("ExecStartPre=+")) {
		t.Errorf("agent unit missing or without its egress check (%v):\n%s", err, unit)
	}
	if r := f.clem(t, "egress", "verify", "--project", f.name); r.code != 0 {
		t.Errorf("egress verify in the namespace: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if r := f.clem(t, "egress", "show", "--project", f.name); r.code != 0 || !strings.Contains(r.stdout, "table inet "+tableName(f)) || !strings.Contains(r.stdout, "23128") {
		t.Errorf("egress show: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	hostCheck := runCmd(t, exec.Command(filepath.Join(binDir, "clem"), "egress", "verify", "--project", f.name), f.dir, nil)
	if hostCheck.code == 0 {
		t.Errorf("the project's table exists in the host namespace: %s", hostCheck.stdout)
	}

	// The daemons accept the configs provision wrote.
	for _, c := range [][]string{
		{"pipelock", "check", "-c", etc + "/pipelock.toml"},
		{"agent-vault", "check", "-c", etc + "/agent-vault.toml"},
		{"coord", "check", "-c", etc + "/coord.toml"},
		{"sidecar", "check", "-c", etc + "/sidecar-db.toml"},
		{"watchdog", "check", "-c", etc + "/watchdog.toml"},
		{"runner", "check", "-c", etc + "/agents/lead/runner.toml"},
	} {
		creds := etc + "/credentials/vault"
		if c[0] == "sidecar" {
			creds = etc + "/credentials/mcp-db"
		}
		if r := runBin(t, "/", []string{"CREDENTIALS_DIRECTORY=" + creds}, "", c[0], c[1:]...); r.code != 0 {
			t.Errorf("%s: exit %d\n%s%s", strings.Join(c, " "), r.code, r.stdout, r.stderr)
		}
	}

	if again := f.provision(t); !strings.Contains(again, "nothing to change") {
		t.Errorf("second provision changed something:\n%s", again)
	}

	yaml, _ := os.ReadFile(filepath.Join(f.dir, "clem.yaml"))
	changed := strings.Replace(string(yaml), "role: developer\n    model: sonnet", "role: developer\n    model: opus", 1)
	writeFile(t, filepath.Join(f.dir, "clem.yaml"), changed)
	plan := f.provision(t, "--dry-run")
	lines := changeLines(plan)
	if len(lines) != 1 || !strings.Contains(lines[0], etc+"/agents/dev/runner.toml") {
		t.Errorf("changing dev's model plans %d changes, want only dev's runner.toml:\n%s", len(lines), plan)
	}
	f.provision(t)
	if b, _ := os.ReadFile(etc + "/agents/dev/runner.toml"); !strings.Contains(string(b), `model = "opus"`) {
		t.Errorf("dev's runner.toml after the change:\n%s", b)
	}

	// After a reboot the table is gone; the boot unit's command restores it.
	f.clem(t, "egress", "apply", "--project", f.name) // replace: same table
	dropTable(t, f)
	if r := f.clem(t, "egress", "verify", "--project", f.name); r.code == 0 {
		t.Errorf("egress verify passes without the table")
	}
	if r := f.clem(t, "egress", "apply", "--project", f.name); r.code != 0 || !strings.Contains(r.stdout, "2 agents pinned") {
		t.Errorf("egress apply: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := f.clem(t, "egress", "verify", "--project", f.name); r.code != 0 {
		t.Errorf("egress verify after apply: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	if r := f.clem(t, "deprovision", "--project", f.name); r.code != 0 {
		t.Fatalf("deprovision: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if left := f.leftovers(); len(left) > 0 {
		t.Errorf("deprovision left %v", left)
	}
	if us := f.leftoverUsers(); len(us) > 0 {
		t.Errorf("deprovision left users %v", us)
	}
	if r := f.clem(t, "egress", "verify", "--project", f.name); r.code == 0 {
		t.Errorf("egress verify passes after deprovision: %s", r.stdout)
	}
}

// TestProvisionRefusesForeignUser: a user with a project's name that clem
// did not make is never touched, and provision changes nothing.
func TestProvisionRefusesForeignUser(t *testing.T) {
	f := newFleet(t, twoAgents)
	foreign := f.user("coord")
	if out, err := exec.Command("useradd", "--system", "--comment", "someone else's", foreign).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("userdel", foreign).Run() })
	r := f.clem(t, "provision", "--templates", filepath.Join(repoRoot, "systemd"), "--bin-dir", binDir)
	if r.code == 0 || !strings.Contains(r.stderr, "user "+foreign+" already exists and is not clem's") {
		t.Fatalf("provision with a foreign %s: exit %d\n%s%s", foreign, r.code, r.stdout, r.stderr)
	}
	if userExists(f.user("lead")) || len(f.leftovers()) > 0 {
		t.Errorf("a refused provision changed the host: lead exists=%v, paths %v", userExists(f.user("lead")), f.leftovers())
	}
}

// dropTable removes the project's table inside its namespace, as a
// reboot (or root) would.
func dropTable(t *testing.T, f *fleet) {
	t.Helper()
	netns.In(t, f.netns, func() {
		c, err := nftables.New()
		if err != nil {
			t.Fatal(err)
		}
		c.DelTable(&nftables.Table{Name: tableName(f), Family: nftables.TableFamilyINet})
		if err := c.Flush(); err != nil {
			t.Fatalf("delete table %s: %v", tableName(f), err)
		}
	})
}

// TestProvisionRefusesForeignGroup: a group with a user's name but no such
// user is someone else's; provision refuses before making anything.
func TestProvisionRefusesForeignGroup(t *testing.T) {
	f := newFleet(t, twoAgents)
	g := f.user("lead")
	if out, err := exec.Command("groupadd", g).CombinedOutput(); err != nil {
		t.Fatalf("groupadd: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("groupdel", g).Run() })
	r := f.clem(t, "provision", "--templates", filepath.Join(repoRoot, "systemd"), "--bin-dir", binDir)
	if r.code == 0 || !strings.Contains(r.stderr, "group "+g+" already exists without its user") {
		t.Fatalf("provision with a foreign group %s: exit %d\n%s", g, r.code, r.stderr)
	}
	if userExists(f.user("pipelock")) || len(f.leftovers()) > 0 {
		t.Errorf("a refused provision changed the host: %v", f.leftovers())
	}
}

// changeLines are the plan's change lines (+, ~, -).
func changeLines(plan string) []string {
	var out []string
	for _, l := range strings.Split(plan, "\n") {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "+ ") || strings.HasPrefix(t, "~ ") || strings.HasPrefix(t, "- ") {
			out = append(out, t)
		}
	}
	return out
}

func checkOwner(t *testing.T, path, owner, group string, mode os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Errorf("%v", err)
		return
	}
	sys := st.Sys().(*syscall.Stat_t)
	uid, gid := lookupIDs(t, owner, group)
	if sys.Uid != uid || sys.Gid != gid || st.Mode().Perm() != mode {
		t.Errorf("%s: %d:%d %04o, want %s:%s %04o", path, sys.Uid, sys.Gid, st.Mode().Perm(), owner, group, mode)
	}
}

// filesContaining walks roots and lists the files holding needle.
func filesContaining(t *testing.T, needle []byte, roots ...string) []string {
	var out []string
	for _, root := range roots {
		filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
			if err != nil || !info.Mode().IsRegular() {
				return nil
			}
			if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, needle) {
				out = append(out, p)
			}
			return nil
		})
	}
	return out
}

// TestProvisionResumesAfterFailure: a run that fails midway (agent-vault
// cannot make its CA) leaves nothing half-written; the next run finishes
// the job and a third has nothing to do.
func TestProvisionResumesAfterFailure(t *testing.T) {
	f := newFleet(t, twoAgents)
	broken := t.TempDir()
	os.Chmod(broken, 0o755)
	for _, b := range Binaries {
		if b == "agent-vault" {
			writeFile(t, filepath.Join(broken, b), "#!/bin/sh\necho 'agent-vault: disk on fire' >&2\nexit 3\n")
			os.Chmod(filepath.Join(broken, b), 0o755)
			continue
		}
		if err := os.Symlink(filepath.Join(binDir, b), filepath.Join(broken, b)); err != nil {
			t.Fatal(err)
		}
	}
	r := f.clem(t, "provision", "--templates", filepath.Join(repoRoot, "systemd"), "--bin-dir", broken)
	if r.code == 0 || !strings.Contains(r.stderr, "disk on fire") {
		t.Fatalf("provision with a failing agent-vault: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Nothing half-written: every file provision wrote is complete (atomic
	// writes leave no temporaries behind).
	if tmp := filesMatching(t, regexp.MustCompile(`/\..*\.tmp-`), "/etc/clem/"+f.name, "/var/lib/clem/"+f.name); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
	out := f.provision(t)
	if !strings.Contains(out, "agent-vault CA") || !strings.Contains(out, "vault-ca.pem") {
		t.Errorf("the second run did not finish the CA step:\n%s", out)
	}
	if again := f.provision(t); !strings.Contains(again, "nothing to change") {
		t.Errorf("third provision changed something:\n%s", again)
	}
}

// filesMatching walks roots and lists paths matching re.
func filesMatching(t *testing.T, re *regexp.Regexp, roots ...string) []string {
	var out []string
	for _, root := range roots {
		filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
			if err == nil && re.MatchString(p) {
				out = append(out, p)
			}
			return nil
		})
	}
	return out
}

// TestDeprovisionKeepHomes: --keep-homes removes users, units, configs and
// the table but keeps agents' homes, the daemons' state and the
// placeholder key, so a later provision gives the same placeholders.
func TestDeprovisionKeepHomes(t *testing.T) {
	f := newFleet(t, twoAgents)
	f.provision(t)
	home := "/home/" + f.user("lead")
	writeFile(t, home+"/work.txt", "the agent's work")
	state := "/var/lib/clem/" + f.name
	key, _ := os.ReadFile(state + "/placeholder.key")
	r := f.clem(t, "deprovision", "--project", f.name, "--keep-homes")
	if r.code != 0 {
		t.Fatalf("deprovision --keep-homes: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Cleanup(func() {
		for _, p := range []string{home, "/home/" + f.user("dev"), state} {
			os.RemoveAll(p)
		}
	})
	if b, err := os.ReadFile(home + "/work.txt"); err != nil || string(b) != "the agent's work" {
		t.Errorf("the agent's work is gone: %v", err)
	}
	if b, _ := os.ReadFile(state + "/placeholder.key"); len(key) == 0 || string(b) != string(key) {
		t.Errorf("the placeholder key was not kept")
	}
	for _, gone := range []string{"/etc/clem/" + f.name, "/etc/systemd/system/clem-" + f.name + ".target", "/run/clem/" + f.name} {
		if _, err := os.Stat(gone); err == nil {
			t.Errorf("%s is still there", gone)
		}
	}
	if us := f.leftoverUsers(); len(us) > 0 {
		t.Errorf("users left: %v", us)
	}
}

// TestProvisionRefusesWritableBinaries: units run clem's binaries as root,
// so a binary or template someone else could change is refused.
func TestProvisionRefusesWritableBinaries(t *testing.T) {
	f := newFleet(t, twoAgents)
	bins := t.TempDir()
	os.Chmod(bins, 0o755)
	for _, b := range Binaries {
		if err := copyFile(filepath.Join(binDir, b), filepath.Join(bins, b), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(bins, "agent-vault"), 0o777)
	r := f.clem(t, "provision", "--templates", filepath.Join(repoRoot, "systemd"), "--bin-dir", bins)
	if r.code == 0 || !strings.Contains(r.stderr, "agent-vault must be owned by root and writable by root only") {
		t.Errorf("provision with a world-writable agent-vault: exit %d\n%s", r.code, r.stderr)
	}
	os.Chmod(filepath.Join(bins, "agent-vault"), 0o755)
	tmpl := t.TempDir()
	os.Chmod(tmpl, 0o755)
	entries, _ := os.ReadDir(filepath.Join(repoRoot, "systemd"))
	for _, e := range entries {
		copyFile(filepath.Join(repoRoot, "systemd", e.Name()), filepath.Join(tmpl, e.Name()), 0o644)
	}
	os.Chmod(filepath.Join(tmpl, "agent.service.tmpl"), 0o666)
	r = f.clem(t, "provision", "--templates", tmpl, "--bin-dir", bins)
	if r.code == 0 || !strings.Contains(r.stderr, "agent.service.tmpl must be owned by root") {
		t.Errorf("provision with a world-writable template: exit %d\n%s", r.code, r.stderr)
	}
	if len(f.leftovers()) > 0 || userExists(f.user("lead")) {
		t.Errorf("a refused provision changed the host: %v", f.leftovers())
	}
}

// TestProvisionRefusesPlantedSymlink: a directory clem keeps inside one a
// daemon owns (agent-vault's CA directory) replaced by a symlink is never
// followed by root's chown or chmod.
func TestProvisionRefusesPlantedSymlink(t *testing.T) {
	f := newFleet(t, twoAgents)
	f.provision(t)
	target := t.TempDir()
	os.Chmod(target, 0o755)
	caDir := "/var/lib/clem/" + f.name + "/vault/ca"
	os.RemoveAll(caDir)
	if err := os.Symlink(target, caDir); err != nil {
		t.Fatal(err)
	}
	r := f.clem(t, "provision", "--templates", filepath.Join(repoRoot, "systemd"), "--bin-dir", binDir)
	if r.code == 0 || !strings.Contains(r.stderr, "is not a directory clem can take") {
		t.Errorf("provision over a planted symlink: exit %d\n%s", r.code, r.stderr)
	}
	st, _ := os.Stat(target)
	if sys := st.Sys().(*syscall.Stat_t); sys.Uid != 0 || st.Mode().Perm() != 0o755 {
		t.Errorf("root followed the link: %s is now %d %04o", target, sys.Uid, st.Mode().Perm())
	}
	os.Remove(caDir)
}

// TestDeprovisionKeepUsers: --keep-users leaves the users and a manifest
// naming them, so a later deprovision still removes them.
func TestDeprovisionKeepUsers(t *testing.T) {
	f := newFleet(t, twoAgents)
	f.provision(t)
	if r := f.clem(t, "deprovision", "--project", f.name, "--keep-users"); r.code != 0 {
		t.Fatalf("deprovision --keep-users: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !userExists(f.user("lead")) || !userExists(f.user("pipelock")) {
		t.Fatalf("--keep-users removed users")
	}
	if _, err := os.Stat("/etc/clem/" + f.name); err == nil {
		t.Errorf("configs stayed with --keep-users")
	}
	if r := f.clem(t, "deprovision", "--project", f.name); r.code != 0 {
		t.Fatalf("second deprovision: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if us := f.leftoverUsers(); len(us) > 0 {
		t.Errorf("the kept users were not removed by the second deprovision: %v", us)
	}
}
