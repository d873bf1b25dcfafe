package fakegithub

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestGHRepoView: gh repo view shows the repository and its README.
func TestGHRepoView(t *testing.T) {
	s := Start(t, Options{Token: testToken, Repos: []string{"acme/app"}})
	c := newClient(t, s, testToken)
	out := c.run(c.home, "gh", "repo", "view", "acme/app")
	if !strings.Contains(out, "acme/app") || !strings.Contains(out, "# app") {
		t.Errorf("gh repo view acme/app = %q, want the name and the README", out)
	}
	var v struct {
		Name             string
		DefaultBranchRef struct{ Name string }
	}
	if err := json.Unmarshal([]byte(c.run(c.home, "gh", "repo", "view", "acme/app", "--json", "name,defaultBranchRef")), &v); err != nil {
		t.Fatal(err)
	}
	if v.Name != "app" || v.DefaultBranchRef.Name != "main" {
		t.Errorf("gh repo view --json = %+v, want app on main", v)
	}
	if p := s.Problems(); len(p) > 0 {
		t.Errorf("problems:\n%s", strings.Join(p, "\n"))
	}
}

// TestRefsAPI drives the git refs API with gh api: read, create, a
// refused non-fast-forward, a forced update, delete.
func TestRefsAPI(t *testing.T) {
	s := Start(t, Options{Token: testToken, Repos: []string{"acme/app"}})
	c := newClient(t, s, testToken)
	dir := c.clone("acme/app")
	base := s.RefSHA("acme/app", "main")
	c.run(dir, "git", "checkout", "--quiet", "-b", "dev/x")
	next := c.commit(dir, "x.txt", "x\n", "x")
	c.run(dir, "git", "push", "--quiet", "origin", "dev/x")

	api := func(args ...string) (map[string]any, error) {
		out, errOut, err := c.try(c.home, "gh", append([]string{"api"}, args...)...)
		if err != nil {
			return nil, &exec.ExitError{Stderr: []byte(out + errOut)}
		}
		var m map[string]any
		if strings.TrimSpace(out) != "" {
			if err := json.Unmarshal([]byte(out), &m); err != nil {
				t.Fatalf("gh api %v: %v: %s", args, err, out)
			}
		}
		return m, nil
	}
	sha := func(m map[string]any) string {
		o, _ := m["object"].(map[string]any)
		s, _ := o["sha"].(string)
		return s
	}

	for _, path := range []string{"repos/acme/app/git/ref/heads/main", "repos/acme/app/git/refs/heads/main"} {
		m, err := api(path)
		if err != nil || m["ref"] != "refs/heads/main" || sha(m) != base {
			t.Errorf("gh api %s = %v, %v; want refs/heads/main at %s", path, m, err, base)
		}
	}
	if _, err := api("repos/acme/app/git/ref/heads/none"); err == nil {
		t.Error("a missing ref was found")
	}
	if m, err := api("repos/acme/app/git/refs", "-f", "ref=refs/heads/dev/y", "-f", "sha="+next); err != nil || sha(m) != next {
		t.Errorf("create dev/y = %v, %v", m, err)
	}
	if _, err := api("repos/acme/app/git/refs", "-f", "ref=refs/heads/dev/y", "-f", "sha="+next); err == nil {
		t.Error("creating an existing ref succeeded")
	}
	if _, err := api("-X", "PATCH", "repos/acme/app/git/refs/heads/dev/y", "-f", "sha="+base); err == nil {
		t.Error("a non-fast-forward update without force succeeded")
	}
	if m, err := api("-X", "PATCH", "repos/acme/app/git/refs/heads/dev/y", "-f", "sha="+base, "-F", "force=true"); err != nil || sha(m) != base {
		t.Errorf("forced update = %v, %v", m, err)
	}
	if got := s.RefSHA("acme/app", "dev/y"); got != base {
		t.Errorf("dev/y = %q after the forced update, want %q", got, base)
	}
	if _, err := api("-X", "DELETE", "repos/acme/app/git/refs/heads/dev/y"); err != nil {
		t.Errorf("delete dev/y: %v", err)
	}
	if got := s.RefSHA("acme/app", "dev/y"); got != "" {
		t.Errorf("dev/y = %q after delete, want gone", got)
	}
	if p := s.Problems(); len(p) > 0 {
		t.Errorf("problems:\n%s", strings.Join(p, "\n"))
	}
}

// TestReposAPI creates, reads and deletes repositories over REST, and
// merges a pull request with PUT .../merge (squash).
func TestReposAPI(t *testing.T) {
	s := Start(t, Options{Token: testToken, Login: "dev-bot", Repos: []string{"acme/app"}, Workflow: true})
	c := newClient(t, s, testToken)
	c.run(c.home, "gh", "api", "orgs/acme/repos", "-f", "name=new")
	if s.Repo("acme/new") == "" {
		t.Fatal("POST orgs/acme/repos did not create acme/new")
	}
	c.run(c.home, "gh", "api", "user/repos", "-f", "name=mine")
	if s.Repo("dev-bot/mine") == "" {
		t.Fatal("POST user/repos did not create dev-bot/mine")
	}
	if _, _, err := c.try(c.home, "gh", "api", "orgs/acme/repos", "-f", "name=new"); err == nil {
		t.Error("creating an existing repository succeeded")
	}
	var r struct {
		FullName      string `json:"full_name"`
		DefaultBranch string `json:"default_branch"`
		CloneURL      string `json:"clone_url"`
	}
	if err := json.Unmarshal([]byte(c.run(c.home, "gh", "api", "repos/acme/new")), &r); err != nil {
		t.Fatal(err)
	}
	if r.FullName != "acme/new" || r.DefaultBranch != "main" || r.CloneURL != "https://github.com/acme/new.git" {
		t.Errorf("GET repos/acme/new = %+v", r)
	}
	c.run(c.home, "gh", "api", "-X", "DELETE", "repos/acme/new")
	if s.Repo("acme/new") != "" {
		t.Error("DELETE repos/acme/new left it")
	}
	if _, _, err := c.try(c.home, "gh", "api", "repos/acme/new"); err == nil {
		t.Error("GET a deleted repository succeeded")
	}

	// The workflow is in the first commit when Options.Workflow is set.
	dir := c.clone("acme/app")
	c.run(dir, "git", "cat-file", "-e", "HEAD:.github/workflows/ci.yml")
	c.run(dir, "git", "checkout", "--quiet", "-b", "dev/squash")
	c.commit(dir, "a.txt", "a\n", "a")
	c.commit(dir, "b.txt", "b\n", "b")
	c.run(dir, "git", "push", "--quiet", "origin", "dev/squash")
	c.run(dir, "gh", "api", "repos/acme/app/pulls", "-f", "title=Squash me", "-f", "head=dev/squash", "-f", "base=main")
	// gh api prints GitHub's error body on stdout and exits non-zero.
	if out, _, err := c.try(dir, "gh", "api", "repos/acme/app/pulls", "-f", "title=Again", "-f", "head=dev/squash", "-f", "base=main"); err == nil || !strings.Contains(out, "already exists") {
		t.Errorf("a second pull request for the same head: err %v, %q; want already exists", err, out)
	}
	if out, _, err := c.try(dir, "gh", "api", "repos/acme/app/pulls", "-f", "title=Empty", "-f", "head=main", "-f", "base=main"); err == nil || !strings.Contains(out, "No commits between") {
		t.Errorf("a pull request without commits: err %v, %q; want No commits between", err, out)
	}
	before := s.RefSHA("acme/app", "main")
	var m struct {
		Merged bool
		SHA    string
	}
	if err := json.Unmarshal([]byte(c.run(dir, "gh", "api", "-X", "PUT", "repos/acme/app/pulls/1/merge", "-f", "merge_method=squash")), &m); err != nil {
		t.Fatal(err)
	}
	after := s.RefSHA("acme/app", "main")
	if !m.Merged || m.SHA != after || after == before {
		t.Errorf("PUT merge = %+v, main %s -> %s; want merged into a new main", m, before, after)
	}
	parents, _ := runGit(s.Repo("acme/app"), nil, "rev-list", "--parents", "-n1", after)
	if parents != after+" "+before {
		t.Errorf("squash commit parents = %q, want only the old main", parents)
	}
	files, _ := runGit(s.Repo("acme/app"), nil, "ls-tree", "--name-only", after)
	if !slices.Contains(strings.Fields(files), "a.txt") || !slices.Contains(strings.Fields(files), "b.txt") {
		t.Errorf("squashed tree = %q, want a.txt and b.txt", files)
	}
	if _, errOut, err := c.try(dir, "gh", "api", "-X", "PUT", "repos/acme/app/pulls/1/merge"); err == nil || !strings.Contains(errOut, "405") {
		t.Errorf("merging a merged pull request: err %v, %q; want 405", err, errOut)
	}
	if p := s.PRs()[0]; p.State != "MERGED" || p.MergeMethod != "SQUASH" {
		t.Errorf("PR = %+v, want MERGED by SQUASH", p)
	}
	if p := s.Problems(); len(p) > 0 {
		t.Errorf("problems:\n%s", strings.Join(p, "\n"))
	}
}

// TestUnknownRequests: what the fake does not implement is a 404 like
// GitHub's, marked Unknown in the record and filed as a Problem.
func TestUnknownRequests(t *testing.T) {
	s := Start(t, Options{Token: testToken, Repos: []string{"acme/app"}})
	hc := httpClient(t, s)
	for _, tc := range []struct{ method, url, host string }{
		{"GET", "https://api.github.com/repos/acme/app/actions/secrets", ""},
		{"PUT", "https://api.github.com/repos/acme/app/branches/main/protection", ""},
		{"POST", "https://api.github.com/user", ""},
		{"GET", "https://github.com/acme/app.git/HEAD", ""},
		{"GET", "https://api.github.com/x", "uploads.github.com"},
	} {
		req, _ := http.NewRequest(tc.method, tc.url, nil)
		if tc.host != "" {
			req.Host = tc.host
		}
		req.Header.Set("Authorization", "token "+testToken)
		req.SetBasicAuth("x", testToken)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s %s = %d, want 404", tc.method, tc.url, resp.StatusCode)
		}
	}
	reqs, probs := s.Requests(), s.Problems()
	if len(reqs) != 5 || len(probs) != 5 {
		t.Fatalf("%d requests, %d problems; want 5 of each:\n%s", len(reqs), len(probs), strings.Join(probs, "\n"))
	}
	for i, r := range reqs {
		if !r.Unknown || r.Status != http.StatusNotFound || !strings.Contains(probs[i], r.Path) {
			t.Errorf("request %d = %+v, problem %q; want unknown 404 named in the problem", i, r, probs[i])
		}
	}
}
