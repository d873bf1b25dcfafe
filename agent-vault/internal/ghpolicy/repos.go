package ghpolicy

import (
	"fmt"
	"strings"
)

// repoPattern is "owner/name" or "owner/*", lower-cased: GitHub compares
// owners and repository names without case.
type repoPattern struct {
	owner, name string // name "*": every repository of owner
}

func parseRepoPattern(s string) (repoPattern, error) {
	owner, name, ok := strings.Cut(strings.ToLower(s), "/")
	if !ok {
		return repoPattern{}, fmt.Errorf("want \"owner/name\" or \"owner/*\"")
	}
	if !validOwner(owner) {
		return repoPattern{}, fmt.Errorf("owner %q: want letters, digits and '-'", owner)
	}
	if name == "*" {
		return repoPattern{owner, name}, nil
	}
	if strings.HasSuffix(name, ".git") {
		return repoPattern{}, fmt.Errorf("name %q: leave out the .git", name)
	}
	if !validRepoName(name) {
		return repoPattern{}, fmt.Errorf("name %q: want letters, digits, '.', '_' and '-' (or \"*\")", name)
	}
	return repoPattern{owner, name}, nil
}

func (p repoPattern) match(repo string) bool {
	owner, name, _ := strings.Cut(repo, "/")
	return owner == p.owner && (p.name == "*" || name == p.name)
}

// validOwner: GitHub logins and organisation names are letters, digits
// and '-'. Anything else cannot name a repository, so a path carrying it is
// a trick, not a request.
func validOwner(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// validRepoName: GitHub repository names are letters, digits, '.', '_'
// and '-', and neither "." nor "..".
func validRepoName(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// repoFromPath makes "owner/name" of two path segments: lower-cased, one
// ".git" stripped (git clients add it, GitHub ignores it). ok is false when
// the segments cannot name a repository.
func repoFromPath(owner, name string) (repo string, ok bool) {
	owner, name = strings.ToLower(owner), strings.ToLower(name)
	name = strings.TrimSuffix(name, ".git")
	if !validOwner(owner) || !validRepoName(name) {
		return "", false
	}
	return owner + "/" + name, true
}

func matchRepos(pats []repoPattern, repo string) bool {
	for _, p := range pats {
		if p.match(repo) {
			return true
		}
	}
	return false
}
