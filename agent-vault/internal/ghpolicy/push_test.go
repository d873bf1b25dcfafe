package ghpolicy

import (
	"errors"
	"strings"
	"testing"

	"github.com/clemhq/clem/shared/daemonconf"
)

// fakePack stands in for a pushed pack: which (tip, ancestor) pairs the
// pushed commits connect, and which tips bring workflow content. It
// records the questions, so a test sees what was asked.
type fakePack struct {
	ancestry  map[[2]string]bool
	workflows map[string]string // tip -> a path under .github/workflows
	err       error
	asked     []string
}

func (f *fakePack) IsAncestor(tip, ancestor string) (bool, error) {
	f.asked = append(f.asked, "ancestor "+tip[:4]+" "+ancestor[:4])
	if f.err != nil {
		return false, f.err
	}
	return tip == ancestor || f.ancestry[[2]string{tip, ancestor}], nil
}

func (f *fakePack) NewContentUnder(tips []string, prefix string) (string, bool, error) {
	f.asked = append(f.asked, "content "+prefix)
	if prefix != WorkflowPrefix {
		return "", false, errors.New("unexpected prefix " + prefix)
	}
	if f.err != nil {
		return "", false, f.err
	}
	for _, tip := range tips {
		if p, ok := f.workflows[tip]; ok {
			return p, true, nil
		}
	}
	return "", false, nil
}

var (
	zero = strings.Repeat("0", 40)
	c1   = strings.Repeat("1", 40)
	c2   = strings.Repeat("2", 40)
	c3   = strings.Repeat("3", 40) // carries a workflow change
)

func newPack() *fakePack {
	return &fakePack{
		ancestry:  map[[2]string]bool{{c2, c1}: true},
		workflows: map[string]string{c3: ".github/workflows/ci.yml"},
	}
}

func TestCheckPush(t *testing.T) {
	withForce := func(g *daemonconf.VaultGitHub) { g.Force = true }
	withDelete := func(g *daemonconf.VaultGitHub) { g.Delete = true }
	withWorkflows := func(g *daemonconf.VaultGitHub) { g.Workflows = true }
	up := func(old, new, ref string) RefUpdate { return RefUpdate{Old: old, New: new, Ref: ref} }
	for _, tc := range []struct {
		name    string
		level   string
		edit    func(*daemonconf.VaultGitHub)
		repo    string
		updates []RefUpdate
		nilPack bool
		packErr error
		allow   bool
		op, ref string
		reason  string
	}{
		{name: "create own branch", updates: []RefUpdate{up(zero, c1, "refs/heads/dev/x")}, allow: true, op: OpPush, ref: "refs/heads/dev/x"},
		{name: "fast-forward", updates: []RefUpdate{up(c1, c2, "refs/heads/dev/x")}, allow: true, op: OpPush},
		{name: "no-op update", updates: []RefUpdate{up(c1, c1, "refs/heads/dev/x")}, allow: true},
		{name: "repo normalised", repo: "ACME/App.git", updates: []RefUpdate{up(zero, c1, "refs/heads/dev/x")}, allow: true},
		{name: "double star", updates: []RefUpdate{up(zero, c1, "refs/heads/feat/a/b")}, allow: true},
		{name: "sha256 ids", updates: []RefUpdate{up(strings.Repeat("0", 64), strings.Repeat("a", 64), "refs/heads/dev/x")}, allow: true},
		{name: "main", updates: []RefUpdate{up(c1, c2, "refs/heads/main")}, ref: "refs/heads/main",
			reason: `push to refs/heads/main refused: protected by agents.dev.github.protected ["main" "master"]`},
		{name: "main though branches allow all", edit: func(g *daemonconf.VaultGitHub) { g.Branches = []string{"**"} }, updates: []RefUpdate{up(c1, c2, "refs/heads/main")}, reason: "protected"},
		{name: "Main", edit: func(g *daemonconf.VaultGitHub) { g.Branches = []string{"*"} }, updates: []RefUpdate{up(zero, c1, "refs/heads/Main")}, reason: "protected"},
		{name: "main at admin with force", level: "admin", edit: withForce, updates: []RefUpdate{up(c1, c2, "refs/heads/main")}, reason: "protected"},
		{name: "other branch", updates: []RefUpdate{up(zero, c1, "refs/heads/feature/x")}, ref: "refs/heads/feature/x",
			reason: `push to refs/heads/feature/x refused: not in agents.dev.github.branches ["dev/*" "feat/**"]`},
		{name: "star does not cross", updates: []RefUpdate{up(zero, c1, "refs/heads/dev/a/b")}, reason: "not in agents.dev.github.branches"},
		{name: "double star needs a segment", updates: []RefUpdate{up(zero, c1, "refs/heads/feat")}, reason: "not in agents.dev.github.branches"},
		{name: "branch case", updates: []RefUpdate{up(zero, c1, "refs/heads/Dev/x")}, reason: "not in agents.dev.github.branches"},
		{name: "no branches", edit: func(g *daemonconf.VaultGitHub) { g.Branches = nil }, updates: []RefUpdate{up(zero, c1, "refs/heads/dev/x")}, reason: "not in agents.dev.github.branches []"},
		{name: "force push", updates: []RefUpdate{up(c2, c1, "refs/heads/dev/x")}, ref: "refs/heads/dev/x",
			reason: "update of refs/heads/dev/x refused as non-fast-forward (a force push): the pushed commits do not lead from " + c2 + " to " + c1 + "; agents.dev.github.force is false"},
		{name: "force push allowed", edit: withForce, updates: []RefUpdate{up(c2, c1, "refs/heads/dev/x")}, allow: true},
		{name: "ancestry unknown", updates: []RefUpdate{up(c1, c2, "refs/heads/dev/x")}, packErr: errors.New("commit 2222 not in pack"),
			reason: `its ancestry cannot be shown from the pushed pack ("commit 2222 not in pack"); agents.dev.github.force is false`},
		{name: "update without pack", updates: []RefUpdate{up(c1, c2, "refs/heads/dev/x")}, nilPack: true, reason: "no pack to show its ancestry"},
		{name: "delete", updates: []RefUpdate{up(c1, zero, "refs/heads/dev/x")}, reason: "deleting refs/heads/dev/x refused: agents.dev.github.delete is false"},
		{name: "delete allowed", edit: withDelete, updates: []RefUpdate{up(c1, zero, "refs/heads/dev/x")}, nilPack: true, allow: true},
		{name: "delete main", level: "admin", edit: withDelete, updates: []RefUpdate{up(c1, zero, "refs/heads/main")}, reason: "protected"},
		{name: "workflow change", updates: []RefUpdate{up(zero, c3, "refs/heads/dev/x")}, ref: "refs/heads/dev/x",
			reason: `push to refs/heads/dev/x refused: it changes .github (".github/workflows/ci.yml"); agents.dev.github.workflows is false`},
		{name: "workflow change on update", edit: withForce, updates: []RefUpdate{up(c1, c3, "refs/heads/dev/x")}, reason: "it changes .github"},
		{name: "workflow change allowed", edit: withWorkflows, updates: []RefUpdate{up(zero, c3, "refs/heads/dev/x")}, allow: true},
		{name: "workflow check fails", updates: []RefUpdate{up(zero, c1, "refs/heads/dev/x")}, packErr: errors.New("bad pack"), reason: "cannot check the pack for .github"},
		{name: "create without pack", updates: []RefUpdate{up(zero, c1, "refs/heads/dev/x")}, nilPack: true, reason: "no pack to check for .github"},
		{name: "create without pack, workflows allowed", edit: withWorkflows, updates: []RefUpdate{up(zero, c1, "refs/heads/dev/x")}, nilPack: true, allow: true},
		{name: "second update refused", updates: []RefUpdate{up(zero, c1, "refs/heads/dev/x"), up(c1, c2, "refs/heads/main")}, ref: "refs/heads/main", reason: "protected"},
		{name: "two allowed", updates: []RefUpdate{up(zero, c1, "refs/heads/dev/x"), up(c1, c2, "refs/heads/dev/y")}, allow: true, ref: "refs/heads/dev/x"},
		{name: "same ref twice", updates: []RefUpdate{up(zero, c1, "refs/heads/dev/x"), up(c1, c2, "refs/heads/dev/x")}, reason: "twice"},
		{name: "tag at merge", level: "merge", updates: []RefUpdate{up(zero, c1, "refs/tags/v1")}, op: OpTags, ref: "refs/tags/v1", reason: "tags needs level admin"},
		{name: "tag allowed", edit: func(g *daemonconf.VaultGitHub) { g.Allow = []string{"tags"} }, updates: []RefUpdate{up(zero, c1, "refs/tags/v1")}, allow: true, op: OpTags},
		{name: "tag and branch", level: "admin", updates: []RefUpdate{up(zero, c1, "refs/heads/dev/x"), up(zero, c1, "refs/tags/v1")}, allow: true, op: "push,tags"},
		{name: "tag move", level: "admin", updates: []RefUpdate{up(c1, c2, "refs/tags/v1")}, op: OpTags, reason: "moving tag refs/tags/v1 refused: agents.dev.github.force is false"},
		{name: "tag delete", level: "admin", updates: []RefUpdate{up(c1, zero, "refs/tags/v1")}, op: OpTags, reason: "agents.dev.github.delete is false"},
		{name: "tag with workflow", level: "admin", updates: []RefUpdate{up(zero, c3, "refs/tags/v1")}, op: OpTags, reason: "it changes .github"},
		{name: "pull ref", level: "admin", updates: []RefUpdate{up(zero, c1, "refs/pull/1/head")}, reason: `push to "refs/pull/1/head" refused: only branches`},
		{name: "for ref", level: "admin", updates: []RefUpdate{up(zero, c1, "refs/for/main")}, reason: "only branches"},
		{name: "notes", level: "admin", updates: []RefUpdate{up(zero, c1, "refs/notes/commits")}, reason: "only branches"},
		{name: "HEAD", level: "admin", updates: []RefUpdate{up(zero, c1, "HEAD")}, reason: "not a valid git ref name"},
		{name: "bare branch name", updates: []RefUpdate{up(zero, c1, "dev/x")}, reason: "not a valid git ref name"},
		{name: "dotdot ref", updates: []RefUpdate{up(zero, c1, "refs/heads/dev/../main")}, reason: "not a valid git ref name"},
		{name: "lock ref", updates: []RefUpdate{up(zero, c1, "refs/heads/dev/x.lock")}, reason: "not a valid git ref name"},
		{name: "space ref", updates: []RefUpdate{up(zero, c1, "refs/heads/dev/x y")}, reason: "not a valid git ref name"},
		{name: "control ref", updates: []RefUpdate{up(zero, c1, "refs/heads/dev/x\x1b[2J")}, reason: `"refs/heads/dev/x\x1b[2J"`},
		{name: "non-ASCII ref quoted", edit: func(g *daemonconf.VaultGitHub) { g.Branches = []string{"*"} }, updates: []RefUpdate{up(zero, c1, "refs/heads/main\u202e")}, reason: `push to "refs/heads/main\u202e" refused: not a valid git ref name`},
		{name: "invalid UTF-8 ref quoted", updates: []RefUpdate{up(zero, c1, "refs/heads/dev/\xff")}, reason: `push to "refs/heads/dev/\xff" refused: not a valid git ref name`},
		{name: "unicode branch", edit: func(g *daemonconf.VaultGitHub) { g.Branches = []string{"dev/*"} }, updates: []RefUpdate{up(zero, c1, "refs/heads/dev/café")}, allow: true},
		{name: "double slash ref", updates: []RefUpdate{up(zero, c1, "refs/heads/dev//x")}, reason: "not a valid git ref name"},
		{name: "dot component", updates: []RefUpdate{up(zero, c1, "refs/heads/dev/.x")}, reason: "not a valid git ref name"},
		{name: "upper-case id", updates: []RefUpdate{up(zero, strings.Repeat("A", 40), "refs/heads/dev/x")}, reason: "not hex ids"},
		{name: "short id", updates: []RefUpdate{up(zero, "1234", "refs/heads/dev/x")}, reason: "not hex ids"},
		{name: "mixed lengths", updates: []RefUpdate{up(zero, strings.Repeat("1", 64), "refs/heads/dev/x")}, reason: "not hex ids"},
		{name: "both zero", updates: []RefUpdate{up(zero, zero, "refs/heads/dev/x")}, reason: "both object ids are zero"},
		{name: "no updates", reason: "updates no ref"},
		{name: "read-only repo", level: "admin", repo: "acme/docs", updates: []RefUpdate{up(zero, c1, "refs/heads/dev/x")}, reason: `acme/docs is not in agents.dev.github.push ["acme/app"]`},
		{name: "bad repo", repo: "acme/app/x", updates: []RefUpdate{up(zero, c1, "refs/heads/dev/x")}, reason: "not an owner/name repository"},
		{name: "push at read", level: "read", updates: []RefUpdate{up(zero, c1, "refs/heads/dev/x")}, reason: "push needs level pr"},
		{name: "push denied", level: "admin", edit: func(g *daemonconf.VaultGitHub) { g.Deny = []string{"push"} }, updates: []RefUpdate{up(zero, c1, "refs/heads/dev/x")}, reason: `"push" is in agents.dev.github.deny`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			level := tc.level
			if level == "" {
				level = "pr"
			}
			var edits []func(*daemonconf.VaultGitHub)
			if tc.edit != nil {
				edits = append(edits, tc.edit)
			}
			p := policyAt(t, level, edits...)
			repo := tc.repo
			if repo == "" {
				repo = "acme/app"
			}
			var pack PackView
			fp := newPack()
			fp.err = tc.packErr
			if !tc.nilPack {
				pack = fp
			}
			d := p.CheckPush(repo, tc.updates, pack)
			if d.Allow != tc.allow || d.Kind != KindReceivePack || (tc.op != "" && d.Op != tc.op) || (tc.ref != "" && d.Ref != tc.ref) {
				t.Errorf("CheckPush(%q, %q) = %+v, want allow %v op %q ref %q", repo, tc.updates, d, tc.allow, tc.op, tc.ref)
			}
			if d.Allow && d.Repo != "acme/app" {
				t.Errorf("CheckPush(%q).Repo = %q, want acme/app", repo, d.Repo)
			}
			if !tc.allow && (d.Reason == "" || !strings.Contains(d.Reason, tc.reason)) {
				t.Errorf("CheckPush(%q, %q).Reason = %q, want it to contain %q", repo, tc.updates, d.Reason, tc.reason)
			}
			// A pack NeedsPack says is not needed must not be asked.
			if !p.NeedsPack(tc.updates) && len(fp.asked) > 0 {
				t.Errorf("NeedsPack(%q) = false, but CheckPush asked the pack %q", tc.updates, fp.asked)
			}
		})
	}
}

func TestNeedsPack(t *testing.T) {
	up := func(old, new, ref string) RefUpdate { return RefUpdate{Old: old, New: new, Ref: ref} }
	for _, tc := range []struct {
		name      string
		force     bool
		workflows bool
		updates   []RefUpdate
		want      bool
	}{
		{"none", false, false, nil, false},
		{"delete only", false, false, []RefUpdate{up(c1, zero, "refs/heads/dev/x")}, false},
		{"create, workflows refused", false, false, []RefUpdate{up(zero, c1, "refs/heads/dev/x")}, true},
		{"create, workflows allowed", false, true, []RefUpdate{up(zero, c1, "refs/heads/dev/x")}, false},
		{"update, workflows allowed", false, true, []RefUpdate{up(c1, c2, "refs/heads/dev/x")}, true},
		{"update, force and workflows", true, true, []RefUpdate{up(c1, c2, "refs/heads/dev/x")}, false},
		{"update, force only", true, false, []RefUpdate{up(c1, c2, "refs/heads/dev/x")}, true},
		{"tag move, workflows allowed", false, true, []RefUpdate{up(c1, c2, "refs/tags/v1")}, false},
		{"delete and create", false, true, []RefUpdate{up(c1, zero, "refs/heads/dev/x"), up(c1, c2, "refs/heads/dev/y")}, true},
	} {
		p := policyAt(t, "pr", func(g *daemonconf.VaultGitHub) { g.Force, g.Workflows = tc.force, tc.workflows })
		if got := p.NeedsPack(tc.updates); got != tc.want {
			t.Errorf("%s: NeedsPack(%q) = %v, want %v", tc.name, tc.updates, got, tc.want)
		}
	}
}
