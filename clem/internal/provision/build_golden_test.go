package provision

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/clem/internal/units"
	"github.com/clemhq/clem/shared/secret"
	"github.com/clemhq/clem/shared/testutil/golden"
)

// goldenTeamPath is where the fixtures' clem.yaml claims to live. It must
// not exist: coord.toml's operator_uids is the owner of clem.yaml, which
// would otherwise be whoever runs the test.
const goldenTeamPath = "/home/operator/clem.yaml"

// repoSystemd is the repo's unit templates, the ones releases ship.
var repoSystemd = filepath.Join("..", "..", "..", "systemd")

// Fixed inputs: nothing in Build's output may depend on the host, the
// clock or randomness, so a golden changes only when the code does.
var (
	goldenKey     = []byte("golden-placeholder-key-32-bytes!")
	goldenVaultCA = []byte("-----BEGIN CERTIFICATE-----\nZ29sZGVuIGFnZW50LXZhdWx0IENB\n-----END CERTIFICATE-----\n")
	goldenRoots   = []byte("-----BEGIN CERTIFICATE-----\nZ29sZGVuIHN5c3RlbSByb290\n-----END CERTIFICATE-----") // no final newline: caBundle adds one
)

// goldenSecret is the vault's value of every secret in the goldens: a
// commit-signing key is a fixed OpenSSH key (testdata/signing, made once by
// ssh-keygen; a fresh one would change the goldens every run).
func goldenSecret(name string) (secret.Value, bool) {
	if strings.HasPrefix(name, "github_sign_") {
		b, err := os.ReadFile(filepath.Join("testdata", "signing", name))
		if err != nil {
			return secret.Value{}, false
		}
		return secret.New(b), true
	}
	return secret.New([]byte("golden-value-of-" + name)), true
}

// goldenRow is one fixture team and the host it is built on.
type goldenRow struct {
	name string // testdata/<name>: its goldens
	team string // testdata/<team>/clem.yaml; name when empty
	// fresh: a dry run before the users exist (no uids, egress pending).
	fresh bool
}

var goldenRows = []goldenRow{
	{name: "local"},
	{name: "brokered"},
	{name: "sidecars"},
	{name: "egress"},
	{name: "transparent"},
	{name: "fresh", team: "brokered", fresh: true},
	{name: "github"},
}

// goldenInputs builds the Inputs of a row: the fixture's clem.yaml, the
// real layout but for sshd's directory (a temp dir, so the drop-in is made
// whatever the host has), uids numbered in role then agent order, and the
// repo's unit templates.
func goldenInputs(t *testing.T, row goldenRow) (in *Inputs, tmp string) {
	t.Helper()
	team := row.team
	if team == "" {
		team = row.name
	}
	path := filepath.Join("testdata", team, "clem.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(path, data, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if _, err := os.Stat(goldenTeamPath); err == nil {
		t.Fatalf("%s exists on this host: the goldens need a clem.yaml path nobody owns (change goldenTeamPath)", goldenTeamPath)
	}
	cfg.Path = goldenTeamPath

	tmp = t.TempDir()
	roots := layout.DefaultRoots("/usr/local/bin")
	roots.SSHDConfig = filepath.Join(tmp, "ssh", "sshd_config")
	if err := os.MkdirAll(filepath.Join(tmp, "ssh", "sshd_config.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	set, err := units.Load(repoSystemd)
	if err != nil {
		t.Fatalf("unit templates: %v", err)
	}
	in = &Inputs{
		Cfg:            cfg,
		Proj:           layout.New(roots, cfg.Project, cfg.Egress.ProxyPort),
		Secret:         goldenSecret,
		PlaceholderKey: goldenKey,
		VaultCA:        goldenVaultCA,
		SystemRoots:    goldenRoots,
		Units:          set.Render,
	}
	uids := map[string]uint32{}
	for _, r := range roles(cfg) {
		uids[in.Proj.User(r)] = uint32(2001 + len(uids))
	}
	for _, a := range cfg.Agents {
		uids[a.User] = uint32(2001 + len(uids))
	}
	in.UID = func(user string) (uint32, bool) {
		if row.fresh {
			return 0, false
		}
		uid, ok := uids[user]
		return uid, ok
	}
	return in, tmp
}

// TestBuildGolden pins every file Build makes, byte for byte, and the
// users, directories, deny lines and file list beside them, for each
// fixture team. After a deliberate change: go test ./internal/provision
// -update, then review the diff of testdata.
func TestBuildGolden(t *testing.T) {
	for _, row := range goldenRows {
		t.Run(row.name, func(t *testing.T) {
			in, tmp := goldenInputs(t, row)
			d, err := Build(in)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			got := map[string][]byte{"desired.golden": describe(d, tmp)}
			files := d.Files
			if d.SSHD != nil {
				files = append([]File{*d.SSHD}, files...)
			}
			for _, f := range files {
				name := goldenFileName(f.Path, tmp)
				if _, dup := got[name]; dup {
					t.Fatalf("Build makes %s twice", f.Path)
				}
				got[name] = normalise(fileData(f), tmp)
			}
			// Both ways: a golden Build no longer makes fails too.
			golden.CheckDir(t, filepath.Join("testdata", row.name), got)
		})
	}
}

// fileData is the content Build gave f.
func fileData(f File) []byte { return f.content() }

// goldenFileName mirrors a file's absolute path under files/.
func goldenFileName(path, tmp string) string {
	if rest, ok := strings.CutPrefix(path, tmp+"/"); ok {
		path = "TMP/" + rest
	}
	return filepath.ToSlash(filepath.Join("files", strings.TrimPrefix(path, "/"))) + ".golden"
}

// normalise replaces the test's temp dir, the only host path Build sees.
func normalise(b []byte, tmp string) []byte {
	return bytes.ReplaceAll(b, []byte(tmp), []byte("$TMP"))
}

// describe lists everything Build decided besides file contents, in its
// order (the order apply follows).
func describe(d *Desired, tmp string) []byte {
	var b strings.Builder
	shell := func(s string) string {
		if s == nologin() {
			return "$NOLOGIN" // the host's nologin
		}
		return s
	}
	b.WriteString("# users\n")
	for _, u := range d.Users {
		fmt.Fprintf(&b, "%s comment=%q home=%q shell=%s agent=%t groups=%v\n", u.Name, u.Comment, u.Home, shell(u.Shell), u.Agent, u.Groups)
	}
	b.WriteString("\n# dirs\n")
	for _, dir := range d.Dirs {
		fmt.Fprintf(&b, "%s %s:%s %s keep=%t\n", dir.Path, orRoot(dir.Owner), orRoot(dir.Group), modeString(dir.Mode), dir.KeepContent)
	}
	b.WriteString("\n# deny lines\n")
	for _, l := range d.Deny {
		fmt.Fprintf(&b, "%s %s\n", l.File, l.User)
	}
	b.WriteString("\n# files\n")
	line := func(f File) {
		fmt.Fprintf(&b, "%s %s:%s %s kind=%q secret=%t once=%t\n", f.Path, orRoot(f.Owner), orRoot(f.Group), modeString(f.Mode), f.Kind, f.IsSecret(), f.Once)
	}
	if d.SSHD != nil {
		line(*d.SSHD)
	}
	for _, f := range d.Files {
		line(f)
	}
	b.WriteString("\n# egress\n")
	switch {
	case d.Egress == nil:
		b.WriteString("none\n")
	case d.EgressPending:
		fmt.Fprintf(&b, "table inet %s pending (%d agents, users missing)\n", d.Egress.Table, len(d.Egress.Agents))
	default:
		fmt.Fprintf(&b, "table inet %s (%d agents)\n", d.Egress.Table, len(d.Egress.Agents))
	}
	return normalise([]byte(b.String()), tmp)
}
