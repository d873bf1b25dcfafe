package ghpolicy

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// checkReason: a Reason goes to audit records and to the agent's git; it
// must be one readable line whatever the agent sent.
func checkReason(t *testing.T, what, reason string) {
	t.Helper()
	if !utf8.ValidString(reason) || strings.ContainsFunc(reason, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		t.Fatalf("%s: Reason %q holds control bytes or invalid UTF-8", what, reason)
	}
}

// opsWithin: every op named in a Decision's Op is at most level l.
func opsWithin(op string, l Level) bool {
	for _, name := range strings.Split(op, ",") {
		o, ok := opsByName[name]
		if !ok || o.Level > l {
			return false
		}
	}
	return true
}

func FuzzCheck(f *testing.F) {
	for _, s := range opSamples {
		path, query, _ := strings.Cut(s[2], "?")
		f.Add(s[0], s[1], path, query)
	}
	for _, s := range [][4]string{
		{"github.com", "GET", "/acme/app.git/info/refs", "service=git-upload-pack"},
		{"github.com:443", "POST", "//acme//app.git/git-receive-pack/", ""},
		{"GitHub.com.", "POST", "/acme/app/%2e%2e/evil/x/git-receive-pack", ""},
		{"github.com", "POST", "/acme%2Fapp/git-receive-pack", ""},
		{"api.github.com", "PUT", "/repos/acme/app/PULLS/1/%6Derge", ""},
		{"api.github.com", "GET", "/repos/acme/app", "_method=DELETE"},
		{"api.github.com", "POST", "/graphql", ""},
		{"api.github.com", "GET", "/repos/acme/app/actions/secrets", ""},
		{"uploads.github.com", "POST", "/repos/acme/app/releases/1/assets", "name=x"},
		{"example.com", "GET", "/", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	p := policyAt(f, "pr")
	f.Fuzz(func(t *testing.T, host, method, path, query string) {
		d := p.Check(host, method, path, query)
		what := strings.Join([]string{host, method, path, query}, " ")
		switch {
		case d.Kind == "" && !d.Allow:
			t.Fatalf("Check(%q) = %+v: a host that is not GitHub's is the caller's to decide", what, d)
		case d.Allow && d.Kind != "" && d.Op == "":
			t.Fatalf("Check(%q) = %+v: allowed without an Op", what, d)
		case !d.Allow && d.Reason == "":
			t.Fatalf("Check(%q) = %+v: refused without a Reason", what, d)
		case d.Allow && d.Kind != "" && !opsWithin(d.Op, LevelPR):
			t.Fatalf("Check(%q) = %+v: allowed an op above level pr", what, d)
		case d.Allow && d.Repo != "" && !p.canRead(d.Repo):
			t.Fatalf("Check(%q) = %+v: allowed a repository outside the lists", what, d)
		case d.Allow && d.Repo != "" && !isRead(method) && !p.canPush(d.Repo):
			t.Fatalf("Check(%q) = %+v: allowed a write to a repository outside push", what, d)
		}
		checkReason(t, what, d.Reason)
	})
}

func FuzzCheckGraphQL(f *testing.F) {
	for _, q := range []string{
		`{ viewer { login } }`,
		`mutation { createPullRequest(input:{}) { clientMutationId } }`,
		`mutation { createIssue: mergePullRequest(input:{}) { clientMutationId } }`,
		`mutation { ...F } fragment F on Mutation { ... on Mutation { mergePullRequest { x } } }`,
		`mutation { ...F } fragment F on Mutation { ...G } fragment G on Mutation { ...F }`,
		`query A { a } mutation B { deleteRef(input:{}) { x } }`,
		`subscription { x }`,
	} {
		f.Add(gqlBody(f, q))
	}
	for _, b := range []string{
		`[{"query":"{ a }"}]`,
		`{"query":"{ a }","query":"mutation { mergePullRequest { x } }"}`,
		`{"query":"{ a }","Query":"mutation { x }"}`,
		`{"query":"{ a }"}{"query":"mutation { x }"}`,
		`{"query":"{ a }","variables":{"a":[1,{"b":null}]},"operationName":null}`,
	} {
		f.Add([]byte(b))
	}
	p := policyAt(f, "pr")
	f.Fuzz(func(t *testing.T, body []byte) {
		d := p.CheckGraphQL(body)
		switch {
		case d.Kind != KindGraphQL:
			t.Fatalf("CheckGraphQL(%q) = %+v: wrong kind", body, d)
		case d.Allow && d.Op == "":
			t.Fatalf("CheckGraphQL(%q) = %+v: allowed without an Op", body, d)
		case !d.Allow && d.Reason == "":
			t.Fatalf("CheckGraphQL(%q) = %+v: refused without a Reason", body, d)
		case d.Allow && !opsWithin(d.Op, LevelPR):
			t.Fatalf("CheckGraphQL(%q) = %+v: allowed an op above level pr", body, d)
		}
		checkReason(t, string(body), d.Reason)
	})
}

func FuzzCheckPush(f *testing.F) {
	for _, ref := range []string{"refs/heads/dev/x", "refs/heads/main", "refs/heads/feat/a/b", "refs/tags/v1", "refs/heads/dev/../main", "refs/heads/Main", "HEAD"} {
		f.Add(zero, c1, ref)
		f.Add(c1, c2, ref)
		f.Add(c2, zero, ref)
	}
	p := policyAt(f, "pr")
	f.Fuzz(func(t *testing.T, old, new, ref string) {
		u := []RefUpdate{{Old: old, New: new, Ref: ref}}
		d := p.CheckPush("acme/app", u, newPack())
		switch {
		case !d.Allow && d.Reason == "":
			t.Fatalf("CheckPush(%q) = %+v: refused without a Reason", u, d)
		case d.Allow && d.Op != OpPush:
			t.Fatalf("CheckPush(%q) = %+v: allowed at pr with op %q", u, d, d.Op)
		case d.Allow && !(strings.HasPrefix(ref, "refs/heads/dev/") || strings.HasPrefix(ref, "refs/heads/feat/")):
			t.Fatalf("CheckPush(%q) = %+v: allowed a ref outside the branches", u, d)
		case d.Allow && matchBranches(p.protected, strings.TrimPrefix(ref, "refs/heads/"), true):
			t.Fatalf("CheckPush(%q) = %+v: allowed a protected branch", u, d)
		case d.Allow && isZeroID(new):
			t.Fatalf("CheckPush(%q) = %+v: allowed a delete", u, d)
		}
		checkReason(t, ref, d.Reason)
	})
}
