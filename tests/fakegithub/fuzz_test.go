package fakegithub

import (
	"encoding/json"
	"testing"
)

// FuzzExecute: any document gets a JSON answer, never a panic; seeded from
// the queries gh sends.
func FuzzExecute(f *testing.F) {
	for _, q := range []string{
		`{ me: viewer { login __typename } }`,
		`fragment r on Repository { name owner { login ...on User { name } } } query { repository(owner: "acme", name: "app") { ...r parent { ...r } } }`,
		`query($y: Boolean!) { viewer { login @include(if: $y) id @skip(if: $y) } }`,
		`{ repository(owner: "acme", name: "app") { pullRequests(headRefName: "x", states: [OPEN], first: 30) { nodes { number headRepositoryOwner { id login ...on User { name } } } } } }`,
		`{ repository(owner: "acme", name: "app") { pullRequest(number: 1) { id commits(last: 1) { nodes { commit { oid } } } } } }`,
		`query PullRequest_fields{PullRequest: __type(name: "PullRequest"){fields(includeDeprecated: true){name}}}`,
		`mutation { mergePullRequest(input: {pullRequestId: "PR_kwfake1", mergeMethod: MERGE}) { clientMutationId } }`,
		`{ viewer { login }`,
	} {
		f.Add(q)
	}
	s, err := New(Options{Token: testToken, Repos: []string{"acme/app"}}, f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, q string) {
		out, _, _ := s.execute("clem-bot", q, "", map[string]any{"y": true})
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("execute(%q): answer is not JSON: %v", q, err)
		}
	})
}
