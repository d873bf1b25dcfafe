package ghpolicy

import (
	"fmt"
	"path"
	"strings"
)

// branchPattern matches a branch name (the part after refs/heads/) segment
// by segment: each segment is a path.Match pattern, so "*" never crosses a
// '/', and a whole segment "**" matches one or more segments ("dev/**"
// matches dev/a and dev/a/b, not dev itself). One or more, not zero, so
// that "dev/**" means what "dev/" suggests and never the branch "dev".
type branchPattern struct {
	src  string
	segs []string
}

func parseBranchPattern(s string) (branchPattern, error) {
	if s == "" {
		return branchPattern{}, fmt.Errorf("empty pattern")
	}
	if strings.HasPrefix(s, "refs/") {
		return branchPattern{}, fmt.Errorf("patterns are under refs/heads/: write %q", strings.TrimPrefix(strings.TrimPrefix(s, "refs/"), "heads/"))
	}
	segs := strings.Split(s, "/")
	for _, seg := range segs {
		if seg == "" {
			return branchPattern{}, fmt.Errorf("empty segment (leading, trailing or double '/')")
		}
		if seg == "**" {
			continue
		}
		if strings.Contains(seg, "**") {
			return branchPattern{}, fmt.Errorf("segment %q: \"**\" must be a whole segment", seg)
		}
		if _, err := path.Match(seg, ""); err != nil {
			return branchPattern{}, fmt.Errorf("segment %q: %w", seg, err)
		}
	}
	return branchPattern{src: s, segs: segs}, nil
}

func (p branchPattern) match(branch string, fold bool) bool {
	if fold {
		branch = strings.ToLower(branch)
	}
	return matchSegs(p.segs, strings.Split(branch, "/"), fold)
}

func matchSegs(pat, name []string, fold bool) bool {
	if len(pat) == 0 {
		return len(name) == 0
	}
	if pat[0] == "**" {
		// One or more segments: try every split that leaves at least one
		// to "**". Branch names have few segments, so this stays small.
		for i := 1; i <= len(name); i++ {
			if matchSegs(pat[1:], name[i:], fold) {
				return true
			}
		}
		return false
	}
	if len(name) == 0 {
		return false
	}
	p := pat[0]
	if fold {
		p = strings.ToLower(p)
	}
	ok, err := path.Match(p, name[0])
	return err == nil && ok && matchSegs(pat[1:], name[1:], fold)
}

func matchBranches(pats []branchPattern, branch string, fold bool) bool {
	for _, p := range pats {
		if p.match(branch, fold) {
			return true
		}
	}
	return false
}
