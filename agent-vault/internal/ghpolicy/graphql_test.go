package ghpolicy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/clemhq/clem/shared/daemonconf"
)

// gqlBody builds a request body the way gh does.
func gqlBody(t testing.TB, query string, extra ...string) []byte {
	t.Helper()
	q, err := json.Marshal(query)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(`{"query":` + string(q) + strings.Join(extra, "") + `}`)
}

func TestCheckGraphQL(t *testing.T) {
	const merge = `mergePullRequest(input:{pullRequestId:"x"}) { clientMutationId }`
	for _, tc := range []struct {
		name   string
		level  string
		edit   func(*daemonconf.VaultGitHub)
		body   string // a raw body; or query, wrapped by gqlBody
		query  string
		allow  bool
		op     string
		reason string
	}{
		{name: "query", level: "read", query: `query { viewer { login } }`, allow: true, op: OpRead},
		{name: "shorthand query", level: "read", query: `{ repository(owner:"acme", name:"app") { id } }`, allow: true, op: OpRead},
		{name: "query naming a mutation field", level: "read", query: `{ mergePullRequest { x } }`, allow: true, op: OpRead},
		{name: "query, read denied", level: "admin", edit: func(g *daemonconf.VaultGitHub) { g.Deny = []string{"read"} }, query: `{ viewer { login } }`, op: OpRead, reason: `"read" is in agents.dev.github.deny`},
		{name: "create pr", level: "pr", query: `mutation CreatePR($input: CreatePullRequestInput!) { createPullRequest(input: $input) { pullRequest { url } } }`,
			body: "", allow: true, op: OpPRCreate},
		{name: "create pr at read", level: "read", query: `mutation { createPullRequest(input:{}) { clientMutationId } }`, op: OpPRCreate,
			reason: `mutation createPullRequest (pr.create): pr.create needs level pr, agents.dev.github.level is "read"; add "pr.create" to agents.dev.github.allow to permit it`},
		{name: "two mutations", level: "pr", query: `mutation { createPullRequest(input:{}) { clientMutationId } addLabelsToLabelable(input:{}) { clientMutationId } }`, allow: true, op: "pr.create,labels"},
		{name: "add comment", level: "pr", query: `mutation { addComment(input:{}) { clientMutationId } }`, allow: true, op: "issue.comment,pr.comment"},
		{name: "add comment, issue.comment denied", level: "pr", edit: func(g *daemonconf.VaultGitHub) { g.Deny = []string{"issue.comment"} },
			query: `mutation { addComment(input:{}) { clientMutationId } }`, op: OpIssueComment, reason: "deny"},
		{name: "merge at pr", level: "pr", query: `mutation { ` + merge + ` }`, op: OpPRMerge, reason: "mutation mergePullRequest (pr.merge)"},
		{name: "merge at merge", level: "merge", query: `mutation { ` + merge + ` }`, allow: true, op: OpPRMerge},
		{name: "auto merge at review", level: "review", query: `mutation { enablePullRequestAutoMerge(input:{}) { clientMutationId } }`, op: OpPRMerge, reason: "needs level merge"},
		{name: "update branch at review", level: "review", query: `mutation { updatePullRequestBranch(input:{}) { clientMutationId } }`, op: OpBranchUpdate, reason: "needs level merge"},
		{name: "review at pr", level: "pr", query: `mutation { addPullRequestReview(input:{}) { clientMutationId } }`, op: OpPRReview, reason: "needs level review"},
		{name: "review at review", level: "review", query: `mutation { submitPullRequestReview(input:{}) { clientMutationId } }`, allow: true, op: OpPRReview},
		{name: "create ref at merge", level: "merge", query: `mutation { createRef(input:{}) { clientMutationId } }`, op: OpRefWrite, reason: "ref.write needs level admin"},
		{name: "commit on branch at merge", level: "merge", query: `mutation { createCommitOnBranch(input:{}) { clientMutationId } }`, op: OpContentsWrite, reason: "contents.write needs level admin"},
		{name: "protection at merge", level: "merge", query: `mutation { createBranchProtectionRule(input:{}) { clientMutationId } }`, op: OpBranchProtection, reason: "needs level admin"},
		{name: "unknown mutation at merge", level: "merge", query: `mutation { deleteRepository(input:{}) { clientMutationId } }`, op: OpUnknownWrite, reason: "mutation deleteRepository (unknown.write)"},
		{name: "unknown mutation at admin", level: "admin", query: `mutation { deleteRepository(input:{}) { clientMutationId } }`, allow: true, op: OpUnknownWrite},
		{name: "mutation name case", level: "merge", query: `mutation { MergePullRequest(input:{}) { clientMutationId } }`, op: OpUnknownWrite, reason: "unknown.write"},
		{name: "typename only", level: "read", query: `mutation { __typename }`, allow: true, op: OpRead},
		{name: "nested field is not a mutation", level: "pr", query: `mutation { createIssue(input:{}) { issue { mergePullRequest { x } } } }`, allow: true, op: OpIssueCreate},

		// Tricks.
		{name: "alias", level: "pr", query: `mutation { createIssue: ` + merge + ` }`, op: OpPRMerge, reason: "mergePullRequest"},
		{name: "aliases both ways", level: "pr", query: `mutation { mergePullRequest: createIssue(input:{}) { clientMutationId } x: ` + merge + ` }`, op: OpPRMerge},
		{name: "fragment spread", level: "pr", query: `mutation { ...F } fragment F on Mutation { ` + merge + ` }`, op: OpPRMerge},
		{name: "nested fragments", level: "pr", query: `mutation { ...F } fragment F on Mutation { ...G } fragment G on Mutation { ` + merge + ` }`, op: OpPRMerge},
		{name: "fragment before use", level: "pr", query: `fragment G on Mutation { ` + merge + ` } mutation { ... on Mutation { ...G } }`, op: OpPRMerge},
		{name: "inline fragment", level: "pr", query: `mutation { ... on Mutation { ` + merge + ` } }`, op: OpPRMerge},
		{name: "inline without type", level: "pr", query: `mutation { ... { ... { ` + merge + ` } } }`, op: OpPRMerge},
		{name: "skipped still checked", level: "pr", query: `mutation { ... @skip(if: true) { ` + merge + ` } }`, op: OpPRMerge},
		{name: "skipped field still checked", level: "pr", query: `mutation { x: mergePullRequest(input:{}) @skip(if: true) { clientMutationId } }`, op: OpPRMerge},
		{name: "fragment cycle", level: "admin", query: `mutation { ...F } fragment F on Mutation { ...G } fragment G on Mutation { ...F }`, reason: "spreads itself"},
		{name: "self spread", level: "admin", query: `mutation { ...F } fragment F on Mutation { __typename ...F }`, reason: "spreads itself"},
		{name: "unknown fragment", level: "admin", query: `mutation { ...Nope }`, reason: `fragment "Nope" is not defined`},
		{name: "fragment twice", level: "pr", query: `mutation { ...F } fragment F on Mutation { __typename } fragment F on Mutation { ` + merge + ` }`, reason: "defined twice"},
		{name: "other operation", level: "pr", query: `query A { viewer { login } } mutation B { ` + merge + ` }`, body: "opname:A", op: OpPRMerge},
		{name: "operationName names none", level: "admin", query: `query A { viewer { login } }`, body: "opname:B", reason: `operationName "B" names no operation`},
		{name: "subscription", level: "admin", query: `subscription { x }`, reason: `"subscription" operations are not served`},
		{name: "syntax error", level: "admin", query: `mutation { ` + merge, reason: "does not parse"},
		{name: "only fragments", level: "admin", query: `fragment F on Query { x }`, reason: "no operation"},
		{name: "empty query", level: "admin", query: ``, reason: "no query"},
		{name: "too deep", level: "admin", query: strings.Repeat("{a", 1100) + strings.Repeat("}", 1100), reason: "does not parse"},
		{name: "query too long", level: "admin", query: `{ viewer { login } }` + strings.Repeat(" ", MaxGraphQLQuery), reason: "query is over"},

		// The JSON around it.
		{name: "batched", level: "admin", body: ` [{"query":"{ viewer { login } }"}]`, reason: "batched"},
		{name: "duplicate query key", level: "pr", body: `{"query":"{ viewer { login } }","query":"mutation { mergePullRequest { x } }"}`, reason: `key "query" appears twice`},
		{name: "key case variant", level: "pr", body: `{"query":"{ viewer { login } }","Query":"mutation { mergePullRequest { x } }"}`, reason: `unknown key "Query"`},
		{name: "persisted query", level: "admin", body: `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"abc"}}}`, reason: `unknown key "extensions"`},
		{name: "no query", level: "admin", body: `{"variables":{}}`, reason: "no query"},
		{name: "null query", level: "admin", body: `{"query":null}`, reason: "query is not a string"},
		{name: "number query", level: "admin", body: `{"query":1}`, reason: "query is not a string"},
		{name: "variables array", level: "admin", body: `{"query":"{ a }","variables":[1]}`, reason: "variables is not an object"},
		{name: "variables null", level: "read", body: `{"query":"{ a }","variables":null,"operationName":null}`, allow: true, op: OpRead},
		{name: "operationName number", level: "admin", body: `{"query":"{ a }","operationName":1}`, reason: "operationName is not a string"},
		{name: "trailing object", level: "pr", body: `{"query":"{ a }"}{"query":"mutation { mergePullRequest { x } }"}`, reason: "data after"},
		{name: "trailing garbage", level: "admin", body: `{"query":"{ a }"} x`, reason: "data after"},
		{name: "trailing space", level: "read", body: `{"query":"{ a }"}` + " \n", allow: true, op: OpRead},
		{name: "not json", level: "admin", body: `query { a }`, reason: "not a JSON object"},
		{name: "string", level: "admin", body: `"{ a }"`, reason: "not a JSON object"},
		{name: "truncated", level: "admin", body: `{"query":"{ a }"`, reason: "not valid JSON"},
		{name: "invalid utf-8", level: "admin", body: "{\"query\":\"{ a(x:\\\"\xff\\\") }\"}", reason: "UTF-8"},
		{name: "blank body", level: "admin", body: " ", reason: "not a JSON object"},
		{name: "huge body", level: "admin", body: `{"query":"{ a }","variables":{"x":"` + strings.Repeat("a", MaxGraphQLBody) + `"}}`, reason: "body is over"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var edits []func(*daemonconf.VaultGitHub)
			if tc.edit != nil {
				edits = append(edits, tc.edit)
			}
			p := policyAt(t, tc.level, edits...)
			body := []byte(tc.body)
			switch {
			case strings.HasPrefix(tc.body, "opname:"):
				body = gqlBody(t, tc.query, fmt.Sprintf(`,"operationName":%q`, strings.TrimPrefix(tc.body, "opname:")))
			case tc.body == "":
				body = gqlBody(t, tc.query, `,"variables":{}`)
			}
			d := p.CheckGraphQL(body)
			if d.Allow != tc.allow || d.Kind != KindGraphQL || (tc.op != "" && d.Op != tc.op) {
				t.Errorf("CheckGraphQL(%.200q) = %+v, want allow %v op %q", body, d, tc.allow, tc.op)
			}
			if !tc.allow && (d.Reason == "" || !strings.Contains(d.Reason, tc.reason)) {
				t.Errorf("CheckGraphQL(%.200q).Reason = %q, want it to contain %q", body, d.Reason, tc.reason)
			}
		})
	}
}

func TestCheckGraphQLNilBody(t *testing.T) {
	if d := policyAt(t, "admin").CheckGraphQL(nil); d.Allow || !strings.Contains(d.Reason, "not a JSON object") {
		t.Errorf("CheckGraphQL(nil) = %+v, want refused as not a JSON object", d)
	}
}

// Fragments that spread the next one twice, thirty deep, name 2^30 paths
// to one field; resolving each fragment once keeps this linear.
func TestCheckGraphQLFragmentFanOut(t *testing.T) {
	var b strings.Builder
	b.WriteString("mutation { ...F0 }\n")
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&b, "fragment F%d on Mutation { ...F%d ... F%d }\n", i, i+1, i+1)
	}
	b.WriteString("fragment F30 on Mutation { mergePullRequest(input:{}) { clientMutationId } }\n")
	body := gqlBody(t, b.String())
	if d := policyAt(t, "pr").CheckGraphQL(body); d.Allow || d.Op != OpPRMerge {
		t.Errorf("CheckGraphQL(fan-out to mergePullRequest) at pr = %+v, want refused as pr.merge", d)
	}
	if d := policyAt(t, "merge").CheckGraphQL(body); !d.Allow {
		t.Errorf("CheckGraphQL(fan-out to mergePullRequest) at merge = %+v, want allowed", d)
	}
}

// Every mutation in the table meets its op's level boundary.
func TestMutationLevels(t *testing.T) {
	for name, ops := range mutationOps {
		need := LevelRead
		for _, op := range ops {
			need = max(need, opsByName[op].Level)
		}
		body := gqlBody(t, "mutation { a: "+name+"(input:{}) { clientMutationId } }")
		for l := LevelRead; l <= LevelAdmin; l++ {
			d := policyAt(t, l.String()).CheckGraphQL(body)
			if d.Allow != (l >= need) {
				t.Errorf("level %s: CheckGraphQL(%s) = %+v, want allow %v", l, name, d, l >= need)
			}
		}
	}
}
