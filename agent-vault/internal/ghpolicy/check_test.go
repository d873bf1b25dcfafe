package ghpolicy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/clemhq/clem/shared/daemonconf"
)

type checkRow struct {
	name               string
	level              string
	edit               func(*daemonconf.VaultGitHub)
	host, method, path string
	query              string
	allow              bool
	kind, op, repo     string
	needsBody          bool
	reason             string // substring of Reason, refusals only
}

func runCheckRows(t *testing.T, rows []checkRow) {
	t.Helper()
	for _, tc := range rows {
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
			d := p.Check(tc.host, tc.method, tc.path, tc.query)
			if d.Allow != tc.allow || d.Kind != tc.kind || d.NeedsBody != tc.needsBody ||
				(tc.op != "" && d.Op != tc.op) || (tc.repo != "" && d.Repo != tc.repo) {
				t.Errorf("Check(%q, %q, %q, %q) = %+v\nwant allow %v kind %q op %q repo %q needsBody %v",
					tc.host, tc.method, tc.path, tc.query, d, tc.allow, tc.kind, tc.op, tc.repo, tc.needsBody)
			}
			if !tc.allow && !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("Check(%q, %q, %q, %q).Reason = %q, want it to contain %q", tc.host, tc.method, tc.path, tc.query, d.Reason, tc.reason)
			}
			if !tc.allow && d.Reason == "" {
				t.Errorf("Check(%q, %q, %q, %q) refused without a Reason", tc.host, tc.method, tc.path, tc.query)
			}
		})
	}
}

const (
	up   = "service=git-upload-pack"
	recv = "service=git-receive-pack"
)

func TestCheckGit(t *testing.T) {
	runCheckRows(t, []checkRow{
		{name: "other host", host: "example.com", method: "POST", path: "/acme/app/git-receive-pack", allow: true},
		{name: "other github host", host: "codeload.github.com", method: "GET", path: "/x", allow: true},
		{name: "lookalike host", host: "github.com.evil.example", method: "GET", path: "/x", allow: true},
		{name: "fetch push repo", level: "read", host: "github.com", method: "GET", path: "/acme/app.git/info/refs", query: up, allow: true, kind: KindInfoRefs, op: OpRead, repo: "acme/app"},
		{name: "fetch read repo any case", level: "read", host: "GitHub.COM:443", method: "GET", path: "/ACME/Docs/info/refs", query: up, allow: true, kind: KindInfoRefs, op: OpRead, repo: "acme/docs"},
		{name: "fetch owner star", level: "read", host: "github.com.", method: "POST", path: "/lib/anything.git/git-upload-pack", allow: true, kind: KindUploadPack, op: OpRead, repo: "lib/anything"},
		{name: "fetch other repo", level: "admin", host: "github.com", method: "GET", path: "/evil/x.git/info/refs", query: up, kind: KindInfoRefs, repo: "evil/x",
			reason: `evil/x is not in agents.dev.github.read ["acme/docs" "lib/*"] or agents.dev.github.push ["acme/app"]`},
		{name: "upload-pack other repo", level: "admin", host: "github.com", method: "POST", path: "/evil/x/git-upload-pack", kind: KindUploadPack, reason: "evil/x is not in"},
		{name: "push advert", host: "github.com", method: "GET", path: "/acme/app.git/info/refs", query: recv, allow: true, kind: KindInfoRefs, op: OpPush},
		{name: "push advert at read", level: "read", host: "github.com", method: "GET", path: "/acme/app.git/info/refs", query: recv, kind: KindInfoRefs, op: OpPush,
			reason: `push needs level pr, agents.dev.github.level is "read"; add "push" to agents.dev.github.allow`},
		{name: "push advert read-only repo", level: "admin", host: "github.com", method: "GET", path: "/acme/docs/info/refs", query: recv, kind: KindInfoRefs,
			reason: `acme/docs is not in agents.dev.github.push ["acme/app"]`},
		{name: "receive-pack", host: "github.com", method: "POST", path: "/acme/app.git/git-receive-pack", allow: true, kind: KindReceivePack, op: OpPush, needsBody: true},
		{name: "receive-pack read-only repo", level: "admin", host: "github.com", method: "POST", path: "/lib/x/git-receive-pack", kind: KindReceivePack, reason: "lib/x is not in agents.dev.github.push"},
		{name: "receive-pack push denied", host: "github.com", method: "POST", path: "/acme/app/git-receive-pack", kind: KindReceivePack,
			edit: func(g *daemonconf.VaultGitHub) { g.Deny = []string{"push"} }, reason: `"push" is in agents.dev.github.deny`},
		{name: "push allowed at read", level: "read", host: "github.com", method: "POST", path: "/acme/app/git-receive-pack", allow: true, kind: KindReceivePack, needsBody: true,
			edit: func(g *daemonconf.VaultGitHub) { g.Allow = []string{"push"} }},
		{name: "dumb protocol", host: "github.com", method: "GET", path: "/acme/app/info/refs", kind: KindInfoRefs, reason: "dumb protocol"},
		{name: "extra query", host: "github.com", method: "GET", path: "/acme/app/info/refs", query: up + "&x=1", kind: KindInfoRefs, reason: "want service="},
		{name: "two services", host: "github.com", method: "GET", path: "/acme/app/info/refs", query: up + "&" + recv, kind: KindInfoRefs, reason: "want service="},
		{name: "info refs post", host: "github.com", method: "POST", path: "/acme/app/info/refs", query: up, kind: KindInfoRefs, reason: "only GET"},
		{name: "upload-pack get", host: "github.com", method: "GET", path: "/acme/app/git-upload-pack", kind: KindUploadPack, reason: "only POST"},
		{name: "upload-pack query", host: "github.com", method: "POST", path: "/acme/app/git-upload-pack", query: "x", kind: KindUploadPack, reason: "takes no query"},
		{name: "web page", host: "github.com", method: "GET", path: "/acme/app/pulls", kind: KindWeb, reason: "not git smart HTTP"},
		{name: "lfs", host: "github.com", method: "POST", path: "/acme/app.git/info/lfs/objects/batch", kind: KindWeb, reason: "not git smart HTTP"},
		{name: "root", host: "github.com", method: "GET", path: "/", kind: KindWeb, reason: "not a git repository"},
		{name: "login", host: "github.com", method: "POST", path: "/login/device/code", kind: KindWeb, reason: "not git smart HTTP"},
		{name: "slashes", host: "github.com", method: "GET", path: "//acme//app.git//info/refs/", query: up, allow: true, kind: KindInfoRefs, repo: "acme/app"},
		{name: "unreserved escapes", host: "github.com", method: "GET", path: "/acme/ap%70/info/refs", query: up, allow: true, kind: KindInfoRefs, repo: "acme/app"},
		{name: "dot dot", host: "github.com", method: "POST", path: "/acme/app/../../evil/x/git-receive-pack", kind: KindInfoRefs, reason: "dot segment"},
		{name: "encoded dot dot", host: "github.com", method: "POST", path: "/acme/app/%2e%2e/%2E%2E/evil/x/git-receive-pack", kind: KindInfoRefs, reason: "dot segment"},
		{name: "encoded slash", host: "github.com", method: "POST", path: "/acme%2Fapp/git-receive-pack", kind: KindInfoRefs, reason: "encodes a slash"},
		{name: "nul", host: "github.com", method: "POST", path: "/acme/app%00/git-receive-pack", kind: KindInfoRefs, reason: "control byte"},
		{name: "bad owner", host: "github.com", method: "GET", path: "/ac_me/app/info/refs", query: up, kind: KindWeb, reason: "not a git repository"},
	})
}

func TestCheckREST(t *testing.T) {
	api := "api.github.com"
	runCheckRows(t, []checkRow{
		{name: "user", level: "read", host: api, method: "GET", path: "/user", allow: true, kind: KindREST, op: OpRead},
		{name: "user emails", level: "read", host: api, method: "GET", path: "/user/emails", allow: true, kind: KindREST, op: OpRead},
		{name: "rate limit", level: "read", host: api, method: "HEAD", path: "/rate_limit", allow: true, kind: KindREST, op: OpRead},
		{name: "search", level: "read", host: api, method: "GET", path: "/search/issues", query: "q=repo:acme/app", allow: true, kind: KindREST, op: OpRead},
		{name: "org members", level: "read", host: api, method: "GET", path: "/orgs/acme/members", allow: true, kind: KindREST, op: OpRead},
		{name: "repo read", level: "read", host: api, method: "GET", path: "/repos/acme/docs/pulls", allow: true, kind: KindREST, op: OpRead, repo: "acme/docs"},
		{name: "repo read case", level: "read", host: api, method: "GET", path: "/repos/Acme/DOCS", allow: true, kind: KindREST, repo: "acme/docs"},
		{name: "repo outside", level: "admin", host: api, method: "GET", path: "/repos/evil/x/pulls", kind: KindREST, repo: "evil/x", reason: "evil/x is not in agents.dev.github.read"},
		{name: "write to read-only repo", level: "admin", host: api, method: "POST", path: "/repos/acme/docs/pulls", kind: KindREST, repo: "acme/docs",
			reason: `acme/docs is not in agents.dev.github.push ["acme/app"]`},
		{name: "repos too short", host: api, method: "GET", path: "/repos/acme", kind: KindREST, reason: "must name owner and repository"},
		{name: "repos bad name", host: api, method: "GET", path: "/repos/acme/a%20b", kind: KindREST, reason: "not a valid GitHub name"},
		{name: "repository by id", level: "admin", host: api, method: "GET", path: "/repositories/123/pulls", kind: KindREST, reason: "by id"},
		{name: "pr create", host: api, method: "POST", path: "/repos/acme/app/pulls", allow: true, kind: KindREST, op: OpPRCreate},
		{name: "pr create at read", level: "read", host: api, method: "POST", path: "/repos/acme/app/pulls", kind: KindREST, op: OpPRCreate,
			reason: `POST /repos/acme/app/pulls (pr.create) refused: pr.create needs level pr, agents.dev.github.level is "read"; add "pr.create" to agents.dev.github.allow to permit it`},
		{name: "pr create denied", host: api, method: "POST", path: "/repos/acme/app/pulls", kind: KindREST, op: OpPRCreate,
			edit: func(g *daemonconf.VaultGitHub) { g.Deny = []string{"pr.create"} }, reason: `"pr.create" is in agents.dev.github.deny`},
		{name: "merge at pr", host: api, method: "PUT", path: "/repos/acme/app/pulls/7/merge", kind: KindREST, op: OpPRMerge, reason: "pr.merge needs level merge"},
		{name: "merge case trick", host: api, method: "PUT", path: "/repos/acme/app/PULLS/7/Merge", kind: KindREST, op: OpPRMerge, reason: "pr.merge needs level merge"},
		{name: "merge slash trick", host: api, method: "PUT", path: "/repos//acme/app/pulls/7/merge/", kind: KindREST, op: OpPRMerge, reason: "pr.merge needs level merge"},
		{name: "merge escape trick", host: api, method: "PUT", path: "/repos/acme/app/pulls/7/%6Derge", kind: KindREST, op: OpPRMerge, reason: "pr.merge needs level merge"},
		{name: "merge at merge", level: "merge", host: api, method: "PUT", path: "/repos/acme/app/pulls/7/merge", allow: true, kind: KindREST, op: OpPRMerge},
		{name: "merge allowed at pr", host: api, method: "PUT", path: "/repos/acme/app/pulls/7/merge", allow: true, kind: KindREST, op: OpPRMerge,
			edit: func(g *daemonconf.VaultGitHub) { g.Allow = []string{"pr.merge"} }},
		{name: "merges endpoint", level: "review", host: api, method: "POST", path: "/repos/acme/app/merges", kind: KindREST, op: OpPRMerge, reason: "needs level merge"},
		{name: "method override", level: "read", host: api, method: "GET", path: "/repos/acme/app", query: "_method=DELETE", kind: KindREST, reason: "_method"},
		{name: "method override escaped", level: "read", host: api, method: "GET", path: "/repos/acme/app", query: "a=1&%5FMETHOD=DELETE", kind: KindREST, reason: "_method"},
		{name: "odd method quoted", level: "review", host: api, method: "GET X", path: "/repos/acme/app", kind: KindREST, op: OpUnknownWrite, reason: `"GET X" /repos/acme/app (unknown.write) refused`},
		{name: "method override after ';'", level: "read", host: api, method: "GET", path: "/repos/acme/app", query: "a=1;_method=DELETE", kind: KindREST, reason: "_method"},
		{name: "lower-case method is a write", level: "review", host: api, method: "get", path: "/repos/acme/app", kind: KindREST, op: OpUnknownWrite, reason: "needs level admin"},
		{name: "issue comment", host: api, method: "POST", path: "/repos/acme/app/issues/3/comments", allow: true, kind: KindREST, op: "issue.comment,pr.comment"},
		{name: "issue comment, pr.comment denied", host: api, method: "POST", path: "/repos/acme/app/issues/3/comments", kind: KindREST, op: OpPRComment,
			edit: func(g *daemonconf.VaultGitHub) { g.Deny = []string{"pr.comment"} }, reason: `"pr.comment" is in agents.dev.github.deny`},
		{name: "secrets read below admin", level: "merge", host: api, method: "GET", path: "/repos/acme/app/actions/secrets", kind: KindREST, op: OpSecrets, reason: "secrets needs level admin"},
		{name: "env secrets", level: "merge", host: api, method: "GET", path: "/repos/acme/app/environments/prod/secrets/X", kind: KindREST, op: OpSecrets, reason: "secrets needs level admin"},
		{name: "org secrets", level: "merge", host: api, method: "GET", path: "/orgs/acme/actions/secrets", kind: KindREST, op: OpSecrets, reason: "secrets needs level admin"},
		{name: "user codespaces secrets", level: "merge", host: api, method: "GET", path: "/user/codespaces/secrets", kind: KindREST, op: OpSecrets, reason: "secrets needs level admin"},
		{name: "branch named secrets is not secrets", level: "read", host: api, method: "GET", path: "/repos/acme/app/branches/secrets", allow: true, kind: KindREST, op: OpRead},
		{name: "actions runs read", level: "read", host: api, method: "GET", path: "/repos/acme/app/actions/runs", allow: true, kind: KindREST, op: OpRead},
		{name: "org hook", level: "merge", host: api, method: "POST", path: "/orgs/acme/hooks", kind: KindREST, op: OpHooks, reason: "hooks needs level admin"},
		{name: "signing key", level: "merge", host: api, method: "POST", path: "/user/ssh_signing_keys", kind: KindREST, op: OpKeysSigning, reason: "keys.signing needs level admin"},
		{name: "signing key allowed", host: api, method: "POST", path: "/user/ssh_signing_keys", allow: true, kind: KindREST, op: OpKeysSigning,
			edit: func(g *daemonconf.VaultGitHub) { g.Allow = []string{"keys.signing"} }},
		{name: "user write", level: "merge", host: api, method: "PATCH", path: "/user", kind: KindREST, op: OpUnknownWrite, reason: "needs level admin"},
		{name: "gist", level: "merge", host: api, method: "POST", path: "/gists", kind: KindREST, op: OpUnknownWrite, reason: "needs level admin"},
		{name: "graphql", level: "read", host: api, method: "POST", path: "/graphql", allow: true, kind: KindGraphQL, needsBody: true},
		{name: "graphql slash", level: "read", host: api, method: "POST", path: "/graphql/", allow: true, kind: KindGraphQL, needsBody: true},
		{name: "graphql get", host: api, method: "GET", path: "/graphql", query: "query=mutation{x}", kind: KindGraphQL, reason: "only as a POST body"},
		{name: "uploads", level: "merge", host: "uploads.github.com", method: "POST", path: "/repos/acme/app/releases/1/assets", query: "name=x", kind: KindREST, op: OpUnknownWrite, reason: "needs level admin"},
		{name: "api path trick", host: api, method: "GET", path: "/repos/acme/docs/../../evil/x", kind: KindREST, reason: "dot segment"},
	})
}

// opSamples is one REST request per operation; TestOpLevels walks every
// level for each, so each level boundary is a row.
var opSamples = map[string][3]string{ // host, method, path (+query after '?')
	OpRead:             {"api.github.com", "GET", "/repos/acme/app"},
	OpPush:             {"github.com", "GET", "/acme/app/info/refs?service=git-receive-pack"},
	OpPRCreate:         {"api.github.com", "POST", "/repos/acme/app/pulls"},
	OpPREdit:           {"api.github.com", "PATCH", "/repos/acme/app/pulls/1"},
	OpPRComment:        {"api.github.com", "POST", "/repos/acme/app/pulls/comments/5/reactions"},
	OpIssueCreate:      {"api.github.com", "POST", "/repos/acme/app/issues"},
	OpIssueEdit:        {"api.github.com", "PATCH", "/repos/acme/app/issues/1"},
	OpIssueComment:     {"api.github.com", "POST", "/repos/acme/app/issues/1/comments"},
	OpLabels:           {"api.github.com", "POST", "/repos/acme/app/issues/1/labels"},
	OpPRReview:         {"api.github.com", "POST", "/repos/acme/app/pulls/1/reviews"},
	OpPRMerge:          {"api.github.com", "PUT", "/repos/acme/app/pulls/1/merge"},
	OpBranchUpdate:     {"api.github.com", "PUT", "/repos/acme/app/pulls/1/update-branch"},
	OpRepoSettings:     {"api.github.com", "PATCH", "/repos/acme/app"},
	OpRepoDelete:       {"api.github.com", "DELETE", "/repos/acme/app"},
	OpBranchProtection: {"api.github.com", "PUT", "/repos/acme/app/branches/main/protection"},
	OpWorkflows:        {"api.github.com", "POST", "/repos/acme/app/actions/workflows/ci.yml/dispatches"},
	OpSecrets:          {"api.github.com", "GET", "/repos/acme/app/actions/secrets/public-key"},
	OpCollaborators:    {"api.github.com", "PUT", "/repos/acme/app/collaborators/bob"},
	OpHooks:            {"api.github.com", "POST", "/repos/acme/app/hooks"},
	OpKeys:             {"api.github.com", "POST", "/repos/acme/app/keys"},
	OpKeysSigning:      {"api.github.com", "POST", "/user/ssh_signing_keys"},
	OpRefWrite:         {"api.github.com", "PATCH", "/repos/acme/app/git/refs/heads/main"},
	OpContentsWrite:    {"api.github.com", "PUT", "/repos/acme/app/contents/.github/workflows/ci.yml"},
	OpUnknownWrite:     {"api.github.com", "POST", "/repos/acme/app/forks"},
}

func TestOpLevels(t *testing.T) {
	levels := []string{"read", "pr", "review", "merge", "admin"}
	for _, op := range Ops {
		s, ok := opSamples[op.Name]
		if !ok {
			if op.Name == OpTags {
				continue // a push's ref, TestCheckPush
			}
			t.Errorf("no sample request for op %q", op.Name)
			continue
		}
		path, query, _ := strings.Cut(s[2], "?")
		for _, ls := range levels {
			l, _ := ParseLevel(ls)
			d := policyAt(t, ls).Check(s[0], s[1], path, query)
			want := l >= op.Level
			if d.Allow != want || !strings.Contains(d.Op, op.Name) {
				t.Errorf("level %s: Check(%s %s) = %+v, want allow %v with op %q", ls, s[1], s[2], d, want, op.Name)
			}
		}
		// Deny wins over every level; Allow lifts the lowest.
		if d := policyAt(t, "admin", func(g *daemonconf.VaultGitHub) { g.Deny = []string{op.Name} }).Check(s[0], s[1], path, query); d.Allow || d.Op != op.Name {
			t.Errorf("admin, deny %q: Check(%s %s) = %+v, want refused", op.Name, s[1], s[2], d)
		}
		ops := policyAt(t, "read").Route(s[0], s[1], path, query).Ops
		if d := policyAt(t, "read", func(g *daemonconf.VaultGitHub) { g.Allow = ops }).Check(s[0], s[1], path, query); !d.Allow {
			t.Errorf("read, allow %q: Check(%s %s) = %+v, want allowed", ops, s[1], s[2], d)
		}
	}
}

func TestRoute(t *testing.T) {
	p := policyAt(t, "read")
	for _, tc := range []struct {
		host, method, path, query string
		want                      Route
	}{
		{"example.com", "GET", "/", "", Route{}},
		{"github.com", "GET", "/Acme/App.git/info/refs", up, Route{Kind: KindInfoRefs, Repo: "acme/app", Service: KindUploadPack, Path: "/Acme/App.git/info/refs", Ops: []string{OpRead}}},
		{"github.com", "GET", "/acme/app/info/refs", recv, Route{Kind: KindInfoRefs, Repo: "acme/app", Service: KindReceivePack, Path: "/acme/app/info/refs", Ops: []string{OpPush}, Write: true}},
		{"github.com", "POST", "/acme/app/git-upload-pack", "", Route{Kind: KindUploadPack, Repo: "acme/app", Service: KindUploadPack, Path: "/acme/app/git-upload-pack", Ops: []string{OpRead}}},
		{"github.com", "POST", "/acme/app/git-receive-pack", "", Route{Kind: KindReceivePack, Repo: "acme/app", Service: KindReceivePack, Path: "/acme/app/git-receive-pack", Ops: []string{OpPush}, Write: true, NeedsBody: true}},
		{"api.github.com", "POST", "/graphql", "", Route{Kind: KindGraphQL, Path: "/graphql", NeedsBody: true}},
		{"api.github.com", "POST", "/repos/acme/app/issues/1/comments", "", Route{Kind: KindREST, Repo: "acme/app", Path: "/repos/acme/app/issues/1/comments", Ops: opsComment, Write: true}},
	} {
		got := p.Route(tc.host, tc.method, tc.path, tc.query)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("Route(%q, %q, %q, %q) = %+v, want %+v", tc.host, tc.method, tc.path, tc.query, got, tc.want)
		}
	}
}
