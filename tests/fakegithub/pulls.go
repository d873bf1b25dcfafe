package fakegithub

import (
	"fmt"
	"strings"
	"time"
)

// PR is a pull request. State is GitHub's GraphQL enum: OPEN, CLOSED or
// MERGED.
type PR struct {
	Repo         string // "owner/name"
	Number       int
	ID           int
	Title, Body  string
	Head, Base   string // branch names in Repo
	HeadSHA      string // the head's commit when created, then when merged
	BaseSHA      string // the base's commit when created
	Author       string
	Draft        bool
	State        string
	Created      time.Time
	MergedAt     time.Time
	MergedBy     string
	MergeMethod  string // MERGE or SQUASH
	MergeCommit  string
	MergeMessage string
}

// PRs returns every pull request, in order of creation.
func (s *Server) PRs() []PR {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PR, len(s.prs))
	for i, p := range s.prs {
		out[i] = *p
	}
	return out
}

// unprocessable is a refusal GitHub reports as 422 (REST) or an
// UNPROCESSABLE error (GraphQL).
type unprocessable struct{ msg string }

func (e unprocessable) Error() string { return e.msg }

// notFound is a missing repository or pull request.
type notFound struct{ msg string }

func (e notFound) Error() string { return e.msg }

// createPR opens a pull request of head into base, checked as GitHub
// checks it: both branches exist, head has commits base lacks, and no
// open pull request has the same head and base.
func (s *Server) createPR(rp *repo, login, head, base, title, body string, draft bool) (*PR, error) {
	// "owner:branch" names a head in a fork; only same-repository heads
	// exist here.
	if o, b, ok := strings.Cut(head, ":"); ok {
		if !strings.EqualFold(o, rp.Owner) {
			return nil, unprocessable{fmt.Sprintf("Head sha can't be blank, Head repository can't be blank (no fork %s of %s here)", o, rp.full())}
		}
		head = b
	}
	if title == "" {
		return nil, unprocessable{"Title can't be blank"}
	}
	headSHA := s.RefSHA(rp.full(), head)
	if headSHA == "" {
		return nil, unprocessable{fmt.Sprintf("Head sha can't be blank, Head ref must be a branch (no branch %q in %s)", head, rp.full())}
	}
	baseSHA := s.RefSHA(rp.full(), base)
	if baseSHA == "" {
		return nil, unprocessable{fmt.Sprintf("Base sha can't be blank, Base ref must be a branch (no branch %q in %s)", base, rp.full())}
	}
	if _, err := runGit(rp.Dir, nil, "merge-base", "--is-ancestor", headSHA, baseSHA); err == nil {
		return nil, unprocessable{fmt.Sprintf("No commits between %s and %s", base, head)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 1
	for _, p := range s.prs {
		if p.Repo != rp.full() {
			continue
		}
		n++
		if p.State == "OPEN" && p.Head == head && p.Base == base {
			return nil, unprocessable{fmt.Sprintf("A pull request already exists for %s:%s.", rp.Owner, head)}
		}
	}
	s.nextID++
	p := &PR{
		Repo: rp.full(), Number: n, ID: s.nextID, Title: title, Body: body, Head: head, Base: base,
		HeadSHA: headSHA, BaseSHA: baseSHA, Author: login, Draft: draft, State: "OPEN", Created: time.Now().UTC(),
	}
	s.prs = append(s.prs, p)
	// GitHub keeps the head at refs/pull/N/head; clients fetch it.
	if _, err := runGit(rp.Dir, nil, "update-ref", fmt.Sprintf("refs/pull/%d/head", n), headSHA); err != nil {
		return nil, fmt.Errorf("create pull request %s#%d: %w", rp.full(), n, err)
	}
	return p, nil
}

// findPR returns pull request n of a repository, nil if there is none.
func (s *Server) findPR(rp *repo, n int) *PR {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.prs {
		if p.Repo == rp.full() && p.Number == n {
			return p
		}
	}
	return nil
}

// snapshot copies a pull request under the lock.
func (s *Server) snapshot(p *PR) PR {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *p
}

// mergePR merges pull request n into its base in the bare repository: a
// merge commit (MERGE) or one commit with the merged tree (SQUASH), made
// with git merge-tree, the base moved only if nobody moved it meanwhile.
// expectSHA, if set, must be the head's current commit, as GitHub checks.
func (s *Server) mergePR(rp *repo, n int, login, method, expectSHA, subject, body string) (PR, error) {
	s.git.Lock()
	defer s.git.Unlock()
	p := s.findPR(rp, n)
	if p == nil {
		return PR{}, notFound{fmt.Sprintf("Could not resolve to a PullRequest with the number of %d.", n)}
	}
	cur := s.snapshot(p)
	if cur.State != "OPEN" {
		return PR{}, unprocessable{"Pull Request is not mergeable"}
	}
	if method == "" {
		method = "MERGE"
	}
	headSHA := s.RefSHA(rp.full(), cur.Head)
	baseSHA := s.RefSHA(rp.full(), cur.Base)
	if headSHA == "" || baseSHA == "" {
		return PR{}, unprocessable{"Pull Request is not mergeable"}
	}
	if expectSHA != "" && expectSHA != headSHA {
		return PR{}, unprocessable{"Head branch was modified. Review and try the merge again."}
	}
	tree, err := runGit(rp.Dir, nil, "merge-tree", "--write-tree", baseSHA, headSHA)
	if err != nil {
		return PR{}, unprocessable{"Pull Request is not mergeable"}
	}
	tree, _, _ = strings.Cut(tree, "\n")
	var msg string
	var parents []string
	switch method {
	case "MERGE":
		msg = fmt.Sprintf("Merge pull request #%d from %s/%s", n, rp.Owner, cur.Head)
		if subject != "" {
			msg = subject
		}
		if b := firstNonEmpty(body, cur.Title); b != "" {
			msg += "\n\n" + b
		}
		parents = []string{"-p", baseSHA, "-p", headSHA}
	case "SQUASH":
		msg = firstNonEmpty(subject, fmt.Sprintf("%s (#%d)", cur.Title, n))
		if body != "" {
			msg += "\n\n" + body
		}
		parents = []string{"-p", baseSHA}
	default:
		return PR{}, unprocessable{fmt.Sprintf("Merge method %s is not implemented by fakegithub (MERGE and SQUASH are)", method)}
	}
	args := append([]string{"commit-tree", tree}, parents...)
	args = append(args, "-m", msg)
	author := []string{"GIT_AUTHOR_NAME=" + login, "GIT_AUTHOR_EMAIL=" + login + "@users.noreply.github.com"}
	commit, err := runGit(rp.Dir, author, args...)
	if err != nil {
		return PR{}, fmt.Errorf("merge %s#%d: %w", rp.full(), n, err)
	}
	if _, err := runGit(rp.Dir, nil, "update-ref", "refs/heads/"+cur.Base, commit, baseSHA); err != nil {
		return PR{}, unprocessable{"Base branch was modified. Review and try the merge again."}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p.State, p.MergedAt, p.MergedBy, p.MergeMethod = "MERGED", time.Now().UTC(), login, method
	p.MergeCommit, p.MergeMessage, p.HeadSHA = commit, msg, headSHA
	return *p, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
