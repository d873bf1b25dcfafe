package fakegithub

import (
	"encoding/json"
	"strings"
	"testing"
)

const testToken = "github_pat_fake_0123456789"

// TestPullRequestFlow drives the real git and gh through a whole pull
// request: clone, push a branch, gh pr create, gh pr view, gh pr merge.
func TestPullRequestFlow(t *testing.T) {
	s := Start(t, Options{Token: testToken, Login: "dev-bot", Repos: []string{"acme/app", "acme/other"}})
	c := newClient(t, s, testToken)
	dir := c.clone("acme/app")
	c.run(dir, "git", "checkout", "--quiet", "-b", "dev/feature")
	head := c.commit(dir, "feature.txt", "feature\n", "add feature")
	c.run(dir, "git", "push", "--quiet", "origin", "dev/feature")
	if got := s.RefSHA("acme/app", "dev/feature"); got != head {
		t.Fatalf("after push, dev/feature = %q, want %q", got, head)
	}

	out := c.run(dir, "gh", "pr", "create", "--head", "dev/feature", "--base", "main", "--title", "T", "--body", "B")
	if want := "https://github.com/acme/app/pull/1"; !strings.Contains(out, want) {
		t.Errorf("gh pr create printed %q, want %q", out, want)
	}
	prs := s.PRs()
	if len(prs) != 1 {
		t.Fatalf("PRs() = %+v, want one", prs)
	}
	if p := prs[0]; p.Number != 1 || p.Repo != "acme/app" || p.Head != "dev/feature" || p.Base != "main" ||
		p.Title != "T" || p.Body != "B" || p.State != "OPEN" || p.Author != "dev-bot" || p.HeadSHA != head {
		t.Errorf("PRs()[0] = %+v, want #1 acme/app dev/feature->main T/B OPEN by dev-bot at %s", p, head)
	}

	var view struct{ State, Title string }
	if err := json.Unmarshal([]byte(c.run(dir, "gh", "pr", "view", "1", "--json", "state,title")), &view); err != nil {
		t.Fatalf("gh pr view: %v", err)
	}
	if view.State != "OPEN" || view.Title != "T" {
		t.Errorf("gh pr view 1 = %+v, want OPEN T", view)
	}

	mainBefore := s.RefSHA("acme/app", "main")
	c.run(dir, "gh", "pr", "merge", "1", "--merge")
	mainAfter := s.RefSHA("acme/app", "main")
	if mainAfter == mainBefore {
		t.Fatalf("main did not move on gh pr merge (still %s)", mainAfter)
	}
	parents, err := runGit(s.Repo("acme/app"), nil, "rev-list", "--parents", "-n1", mainAfter)
	if err != nil {
		t.Fatal(err)
	}
	if want := mainAfter + " " + mainBefore + " " + head; parents != want {
		t.Errorf("merge commit parents = %q, want %q (old main, then the head)", parents, want)
	}
	if p := s.PRs()[0]; p.State != "MERGED" || p.MergeCommit != mainAfter || p.MergedBy != "dev-bot" || p.MergeMethod != "MERGE" {
		t.Errorf("after merge PRs()[0] = %+v, want MERGED by dev-bot with MERGE into %s", p, mainAfter)
	}
	if err := json.Unmarshal([]byte(c.run(dir, "gh", "pr", "view", "1", "--json", "state,title")), &view); err != nil {
		t.Fatalf("gh pr view: %v", err)
	}
	if view.State != "MERGED" {
		t.Errorf("gh pr view 1 after merge: state %q, want MERGED", view.State)
	}

	// The fake puts no rule on main: a direct push lands (a broker in
	// front of it is what refuses it).
	c.run(dir, "git", "checkout", "--quiet", "main")
	c.run(dir, "git", "pull", "--quiet", "--no-rebase", "origin", "main")
	direct := c.commit(dir, "direct.txt", "direct\n", "direct to main")
	c.run(dir, "git", "push", "--quiet", "origin", "main")
	if got := s.RefSHA("acme/app", "main"); got != direct {
		t.Errorf("after push to main, main = %q, want %q", got, direct)
	}

	if p := s.Problems(); len(p) > 0 {
		t.Errorf("the fake could not answer:\n%s", strings.Join(p, "\n"))
	}
	for _, r := range s.Requests() {
		// git asks without a credential first and gets GitHub's challenge.
		if r.Auth == "" && r.Host == HostGit && r.Refused && r.Status == 401 {
			continue
		}
		if r.Login != "dev-bot" || r.Token != testToken || r.Refused {
			t.Errorf("request %s %s%s: login %q, token ok %v, refused %v; want dev-bot with the token", r.Method, r.Host, r.Path, r.Login, r.Token == testToken, r.Refused)
		}
	}
}
