package ghpolicy

import (
	"strings"
	"testing"

	"github.com/clemhq/clem/shared/daemonconf"
)

func TestParseLevel(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Level
	}{
		{"read", LevelRead}, {"pr", LevelPR}, {"review", LevelReview}, {"merge", LevelMerge}, {"admin", LevelAdmin},
	} {
		got, err := ParseLevel(tc.in)
		if err != nil || got != tc.want || got.String() != tc.in {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "Read", "PR", "owner", "write", " read"} {
		if l, err := ParseLevel(bad); err == nil {
			t.Errorf("ParseLevel(%q) = %v, want an error", bad, l)
		}
	}
	if !(LevelRead < LevelPR && LevelPR < LevelReview && LevelReview < LevelMerge && LevelMerge < LevelAdmin) {
		t.Errorf("levels are out of order")
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*daemonconf.VaultGitHub)
		want []string // each must be in the error
	}{
		{"no agent", func(g *daemonconf.VaultGitHub) { g.Agent = "" }, []string{"agent is empty"}},
		{"no level", func(g *daemonconf.VaultGitHub) { g.Level = "" }, []string{"agents.dev.github.level", `""`}},
		{"bad level", func(g *daemonconf.VaultGitHub) { g.Level = "owner" }, []string{"agents.dev.github.level", `"owner"`}},
		{"read without slash", func(g *daemonconf.VaultGitHub) { g.Read = []string{"acme"} }, []string{"agents.dev.github.read", `"acme"`}},
		{"read star owner", func(g *daemonconf.VaultGitHub) { g.Read = []string{"*/*"} }, []string{"agents.dev.github.read", `"*/*"`}},
		{"read dot git", func(g *daemonconf.VaultGitHub) { g.Read = []string{"acme/app.git"} }, []string{"agents.dev.github.read", `"acme/app.git"`, ".git"}},
		{"read three parts", func(g *daemonconf.VaultGitHub) { g.Read = []string{"acme/app/x"} }, []string{"agents.dev.github.read", `"acme/app/x"`}},
		{"read dotdot", func(g *daemonconf.VaultGitHub) { g.Read = []string{"acme/.."} }, []string{"agents.dev.github.read", `"acme/.."`}},
		{"push bad owner", func(g *daemonconf.VaultGitHub) { g.Push = []string{"ac_me/app"} }, []string{"agents.dev.github.push", `"ac_me/app"`}},
		{"push partial star", func(g *daemonconf.VaultGitHub) { g.Push = []string{"acme/app*"} }, []string{"agents.dev.github.push", `"acme/app*"`}},
		{"branch empty", func(g *daemonconf.VaultGitHub) { g.Branches = []string{""} }, []string{"agents.dev.github.branches", `""`}},
		{"branch refs", func(g *daemonconf.VaultGitHub) { g.Branches = []string{"refs/heads/dev/*"} }, []string{"agents.dev.github.branches", `"refs/heads/dev/*"`, `"dev/*"`}},
		{"branch double slash", func(g *daemonconf.VaultGitHub) { g.Branches = []string{"dev//x"} }, []string{"agents.dev.github.branches", `"dev//x"`}},
		{"branch trailing slash", func(g *daemonconf.VaultGitHub) { g.Branches = []string{"dev/"} }, []string{"agents.dev.github.branches", `"dev/"`}},
		{"branch half double star", func(g *daemonconf.VaultGitHub) { g.Branches = []string{"dev/x**"} }, []string{"agents.dev.github.branches", `"dev/x**"`}},
		{"branch bad class", func(g *daemonconf.VaultGitHub) { g.Branches = []string{"dev/[a"} }, []string{"agents.dev.github.branches", `"dev/[a"`}},
		{"protected bad", func(g *daemonconf.VaultGitHub) { g.Protected = []string{"[x"} }, []string{"agents.dev.github.protected", `"[x"`}},
		{"allow unknown", func(g *daemonconf.VaultGitHub) { g.Allow = []string{"pr.merg"} }, []string{"agents.dev.github.allow", `"pr.merg"`}},
		{"deny unknown", func(g *daemonconf.VaultGitHub) { g.Deny = []string{"merge"} }, []string{"agents.dev.github.deny", `"merge"`}},
		{"negative pack", func(g *daemonconf.VaultGitHub) { g.MaxPackBytes = -1 }, []string{"agents.dev.github.max_pack_bytes", "-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := testConf("pr")
			tc.edit(&g)
			p, err := Compile(g)
			if err == nil {
				t.Fatalf("Compile = %+v, want an error", p)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Compile error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestCompileDefaults(t *testing.T) {
	p := policyAt(t, "merge", func(g *daemonconf.VaultGitHub) {
		g.Read = []string{"Acme/Docs", "LIB/*"}
		g.Allow = []string{"secrets"}
		g.Deny = []string{"secrets"}
	})
	if p.Agent() != "dev" || p.Level() != LevelMerge || p.MaxPackBytes() != DefaultMaxPackBytes {
		t.Errorf("Compile: agent %q level %v max pack %d", p.Agent(), p.Level(), p.MaxPackBytes())
	}
	if !p.canRead("acme/docs") || !p.canRead("lib/x") || p.canRead("acme/other") {
		t.Errorf("read patterns are not matched without case")
	}
	if why := p.opRefusal(OpSecrets); !strings.Contains(why, "deny") {
		t.Errorf("allow and deny of one op: %q, want deny to win", why)
	}
}

// Every op is in the table once, with a level, and the vocabulary's names
// are the ones Compile accepts.
func TestOpsTable(t *testing.T) {
	seen := map[string]bool{}
	for _, op := range Ops {
		if seen[op.Name] || op.Level < LevelRead || op.Level > LevelAdmin || op.Doc == "" {
			t.Errorf("Ops row %+v: duplicate, no level or no doc", op)
		}
		seen[op.Name] = true
		if _, err := Compile(daemonconf.VaultGitHub{Agent: "a", Level: "read", Allow: []string{op.Name}}); err != nil {
			t.Errorf("Compile(allow %q): %v", op.Name, err)
		}
	}
	for name, ops := range mutationOps {
		for _, op := range ops {
			if !seen[op] {
				t.Errorf("mutationOps[%q] names %q, which is not in Ops", name, op)
			}
		}
	}
}
