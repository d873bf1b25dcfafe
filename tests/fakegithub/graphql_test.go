package fakegithub

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestExecute answers documents straight from the model, without a
// client: selection, aliases, fragments, directives, and GitHub's errors.
func TestExecute(t *testing.T) {
	s, err := New(Options{Token: testToken, Login: "dev-bot", Repos: []string{"acme/app"}}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	repoID := nodeID("R", s.lookupRepo("acme", "app").ID)
	for _, tc := range []struct {
		name, query string
		vars        string // JSON
		want        string // the response, JSON
		problem     string // in the problems, "" for none
	}{
		{
			name:  "viewer with alias and typename",
			query: `{ me: viewer { login __typename } }`,
			want:  `{"data":{"me":{"login":"dev-bot","__typename":"User"}}}`,
		},
		{
			name: "fragments on the owner's type",
			query: `fragment r on Repository { name owner { login ...on User { name } ...on Organization { url } } }
				query Q($o: String!) { repository(owner: $o, name: "app") { ...r nameWithOwner } }`,
			vars: `{"o":"acme"}`,
			want: `{"data":{"repository":{"name":"app","owner":{"login":"acme","url":"https://github.com/acme"},"nameWithOwner":"acme/app"}}}`,
		},
		{
			name:  "same field twice merges selections",
			query: `{ repository(owner: "acme", name: "app") { defaultBranchRef { name } ...on Repository { defaultBranchRef { prefix } } } }`,
			want:  `{"data":{"repository":{"defaultBranchRef":{"name":"main","prefix":"refs/heads/"}}}}`,
		},
		{
			name:  "skip and include",
			query: `query($y: Boolean!) { viewer { login @include(if: $y) id @skip(if: $y) } }`,
			vars:  `{"y":true}`,
			want:  `{"data":{"viewer":{"login":"dev-bot"}}}`,
		},
		{
			name:  "missing repository",
			query: `{ repository(owner: "acme", name: "nope") { id } }`,
			want:  `{"data":{"repository":null},"errors":[{"type":"NOT_FOUND","path":["query","repository"],"locations":[{"line":1,"column":3}],"message":"Could not resolve to a Repository with the name 'acme/nope'."}]}`,
		},
		{
			name:    "field the model lacks",
			query:   `query Q { viewer { login stars } }`,
			want:    `{"errors":[{"path":["query Q","viewer","stars"],"extensions":{"code":"undefinedField","fieldName":"stars","typeName":"User"},"locations":[{"line":1,"column":26}],"message":"Field 'stars' doesn't exist on type 'User'"}]}`,
			problem: "Field 'stars' doesn't exist on type 'User'",
		},
		{
			name:    "parse error",
			query:   `{ viewer { login }`,
			want:    `{"errors":[{"locations":[{"line":1,"column":19}],"message":"Parse error: Expected Name, found \u003cEOF\u003e"}]}`,
			problem: "Parse error",
		},
		{
			name:    "fragment cycle",
			query:   `fragment a on Query { ...b } fragment b on Query { ...a } { ...a }`,
			want:    `{"errors":[{"path":["query"],"message":"Fragment a contains an infinite loop"}]}`,
			problem: "infinite loop",
		},
		{
			name:    "two operations, no name",
			query:   `query A { viewer { login } } query B { viewer { id } }`,
			want:    `{"errors":[{"message":"An operation name is required when the document has more than one operation"}]}`,
			problem: "operation name is required",
		},
		{
			name:  "introspection of a model type",
			query: `{ T: __type(name: "Ref") { name fields(includeDeprecated: true) { name } } }`,
			want:  `{"data":{"T":{"name":"Ref","fields":[{"name":"id"},{"name":"name"},{"name":"prefix"},{"name":"target"}]}}}`,
		},
		{
			name:  "introspection of a type the model lacks",
			query: `{ __type(name: "Discussion") { name } }`,
			want:  `{"data":{"__type":null}}`,
		},
		{
			name:  "create without commits is unprocessable",
			query: `mutation C($input: CreatePullRequestInput!) { createPullRequest(input: $input) { pullRequest { number } } }`,
			vars:  `{"input":{"repositoryId":"` + repoID + `","headRefName":"main","baseRefName":"main","title":"T"}}`,
			want:  `{"data":{"createPullRequest":null},"errors":[{"type":"UNPROCESSABLE","path":["mutation C","createPullRequest"],"locations":[{"line":1,"column":47}],"message":"No commits between main and main"}]}`,
		},
		{
			name:  "empty connection",
			query: `{ repository(owner: "acme", name: "app") { pullRequests(states: [OPEN], first: 5) { totalCount nodes { number } pageInfo { hasNextPage } } } }`,
			want:  `{"data":{"repository":{"pullRequests":{"totalCount":0,"nodes":[],"pageInfo":{"hasNextPage":false}}}}}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var vars map[string]any
			if tc.vars != "" {
				if err := json.Unmarshal([]byte(tc.vars), &vars); err != nil {
					t.Fatal(err)
				}
			}
			out, _, problems := s.execute("dev-bot", tc.query, "", vars)
			got, err := json.Marshal(out)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("execute(%q) =\n%s\nwant\n%s", tc.query, got, tc.want)
			}
			joined := strings.Join(problems, "\n")
			if (tc.problem == "") != (joined == "") || !strings.Contains(joined, tc.problem) {
				t.Errorf("problems = %q, want %q", joined, tc.problem)
			}
		})
	}
}

// TestExecutePullRequests: the pullRequests connection filters by head and
// state and honours first and last; the PR's commits come from git.
func TestExecutePullRequests(t *testing.T) {
	s, err := New(Options{Token: testToken, Login: "dev-bot", Repos: []string{"acme/app"}}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rp := s.lookupRepo("acme", "app")
	base := s.RefSHA("acme/app", "main")
	heads := map[string]string{}
	for _, b := range []string{"dev/a", "dev/b", "dev/c"} {
		tree, _ := runGit(rp.Dir, nil, "rev-parse", base+"^{tree}")
		c, err := runGit(rp.Dir, nil, "commit-tree", tree, "-p", base, "-m", b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := runGit(rp.Dir, nil, "update-ref", "refs/heads/"+b, c); err != nil {
			t.Fatal(err)
		}
		heads[b] = c
		if _, err := s.createPR(rp, "dev-bot", b, "main", "PR "+b, "", false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.mergePR(rp, 2, "dev-bot", "MERGE", "", "", ""); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, args, want string }{
		{"open", `states: [OPEN]`, `[1,3]`},
		{"merged as one value", `states: MERGED`, `[2]`},
		{"by head", `headRefName: "dev/c"`, `[3]`},
		{"first", `first: 1`, `[1]`},
		{"last", `last: 2`, `[2,3]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, problems := s.execute("dev-bot", `{ repository(owner: "acme", name: "app") { pullRequests(`+tc.args+`) { nodes { number } } } }`, "", nil)
			b, _ := json.Marshal(out)
			var r struct {
				Data struct {
					Repository struct {
						PullRequests struct{ Nodes []struct{ Number int } }
					}
				}
			}
			json.Unmarshal(b, &r)
			var nums []int
			for _, n := range r.Data.Repository.PullRequests.Nodes {
				nums = append(nums, n.Number)
			}
			got, _ := json.Marshal(nums)
			if string(got) != tc.want || len(problems) > 0 {
				t.Errorf("pullRequests(%s) = %s (problems %q), want %s", tc.args, got, problems, tc.want)
			}
		})
	}
	out, _, _ := s.execute("dev-bot", `{ repository(owner: "acme", name: "app") { pullRequest(number: 3) { headRefOid commits(last: 1) { totalCount nodes { commit { oid } } } } } }`, "", nil)
	got, _ := json.Marshal(out)
	want := `{"data":{"repository":{"pullRequest":{"headRefOid":"` + heads["dev/c"] + `","commits":{"totalCount":1,"nodes":[{"commit":{"oid":"` + heads["dev/c"] + `"}}]}}}}}`
	if string(got) != want {
		t.Errorf("pullRequest(3) =\n%s\nwant\n%s", got, want)
	}
}
