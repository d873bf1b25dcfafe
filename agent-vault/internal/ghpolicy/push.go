package ghpolicy

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// WorkflowPrefix is the directory of a repository's automation: GitHub
// Actions' workflows and the local actions they call, Dependabot's and
// other bots' configs. Pushing new content anywhere under it needs the
// policy's Workflows. The whole directory, not only workflows/: a
// workflow runs with the repository's token and secrets and may call
// anything beside it, and a directory staged elsewhere and then moved to
// .github/workflows/ is no new content there (the server has it) but
// makes .github/ itself new. GitHub's own token permission (Workflows)
// guards workflows/ whatever the push looks like; docs/github.md says
// what this check cannot see.
const WorkflowPrefix = ".github"

// RefUpdate is one command at the start of a receive-pack body: object ids
// in hex; an all-zero Old creates Ref, an all-zero New deletes it.
type RefUpdate struct {
	Old, New, Ref string
}

// PackView answers questions about a pushed pack. The caller builds it
// from the pack it holds (bounded by MaxPackBytes); only the pushed
// objects count, so an answer never depends on what the server has.
type PackView interface {
	// IsAncestor: is ancestor reachable from tip through commits in the
	// pushed pack (tip == ancestor counts)?
	IsAncestor(tip, ancestor string) (bool, error)
	// NewContentUnder: does the pack hold any tree or blob at path prefix
	// (e.g. ".github/workflows") in the tree of one of tips' pushed
	// commits (a tag is peeled to its commit)? path is the first such one.
	NewContentUnder(tips []string, prefix string) (path string, found bool, err error)
}

// NeedsPack says whether CheckPush will ask the pack about these updates:
// a branch update that must be a fast-forward, or any new tip while
// workflow changes are refused. When it is false the caller may pass a nil
// PackView (and forward the pack without holding it).
func (p *Policy) NeedsPack(updates []RefUpdate) bool {
	for _, u := range updates {
		if isZeroID(u.New) {
			continue
		}
		if !p.workflows {
			return true
		}
		if !isZeroID(u.Old) && !p.force && strings.HasPrefix(u.Ref, "refs/heads/") {
			return true
		}
	}
	return false
}

// CheckPush decides a push's ref updates. One refused update refuses the
// whole push (git's receive-pack applies them together, and a partial
// forward is not possible anyway); Decision.Ref names it.
func (p *Policy) CheckPush(repo string, updates []RefUpdate, pack PackView) Decision {
	d := Decision{Kind: KindReceivePack, Op: OpPush, Repo: repo}
	owner, name, _ := strings.Cut(repo, "/")
	r, ok := repoFromPath(owner, name)
	if !ok {
		d.Reason = fmt.Sprintf("push to %s refused: not an owner/name repository", quote(repo))
		return d
	}
	d.Repo = r
	if !p.canPush(d.Repo) {
		d.Reason = fmt.Sprintf("push to %s refused: %s", d.Repo, p.pushRefusal(d.Repo))
		return d
	}
	if why := p.opRefusal(OpPush); why != "" {
		d.Reason = fmt.Sprintf("push to %s refused: %s", d.Repo, why)
		return d
	}
	if len(updates) == 0 {
		d.Reason = fmt.Sprintf("push to %s refused: it updates no ref", d.Repo)
		return d
	}
	seen := map[string]bool{}
	for _, u := range updates {
		if seen[u.Ref] {
			d.Ref = u.Ref
			d.Reason = fmt.Sprintf("push refused: it updates %s twice", quote(u.Ref))
			return d
		}
		seen[u.Ref] = true
		if op, why := p.checkUpdate(u, pack); why != "" {
			d.Op, d.Ref, d.Reason = op, u.Ref, why
			return d
		}
	}
	d.Allow, d.Ref = true, updates[0].Ref
	ops := []string{}
	for _, u := range updates {
		if strings.HasPrefix(u.Ref, "refs/tags/") {
			ops = append(ops, OpTags)
		} else {
			ops = append(ops, OpPush)
		}
	}
	d.Op = joinOps(ops)
	return d
}

// checkUpdate decides one ref update: the op it needs and why it is
// refused ("" if it is not).
func (p *Policy) checkUpdate(u RefUpdate, pack PackView) (op, why string) {
	op = OpPush
	if !validID(u.Old) || !validID(u.New) || len(u.Old) != len(u.New) {
		return op, fmt.Sprintf("push to %s refused: object ids %s %s are not hex ids of one length", quote(u.Ref), quote(u.Old), quote(u.New))
	}
	if !validRefName(u.Ref) {
		return op, fmt.Sprintf("push to %s refused: not a valid git ref name", quote(u.Ref))
	}
	ref := text(u.Ref)
	create, del := isZeroID(u.Old), isZeroID(u.New)
	if create && del {
		return op, fmt.Sprintf("push to %s refused: both object ids are zero", ref)
	}
	switch {
	case strings.HasPrefix(u.Ref, "refs/heads/"):
		branch := strings.TrimPrefix(u.Ref, "refs/heads/")
		if matchBranches(p.protected, branch, true) {
			return op, fmt.Sprintf("push to %s refused: protected by %s.protected %q", ref, p.key, p.src.Protected)
		}
		if !matchBranches(p.branches, branch, false) {
			return op, fmt.Sprintf("push to %s refused: not in %s.branches %q", ref, p.key, p.src.Branches)
		}
		switch {
		case del && !p.delete:
			return op, fmt.Sprintf("deleting %s refused: %s.delete is false", ref, p.key)
		case !create && !del && !p.force:
			if pack == nil {
				return op, fmt.Sprintf("update of %s refused as non-fast-forward: no pack to show its ancestry", ref)
			}
			ok, err := pack.IsAncestor(u.New, u.Old)
			if err != nil {
				return op, fmt.Sprintf("update of %s refused as non-fast-forward: its ancestry cannot be shown from the pushed pack (%s); %s.force is false", ref, quote(err.Error()), p.key)
			}
			if !ok {
				return op, fmt.Sprintf("update of %s refused as non-fast-forward (a force push): the pushed commits do not lead from %s to %s; %s.force is false", ref, u.Old, u.New, p.key)
			}
		}
	case strings.HasPrefix(u.Ref, "refs/tags/"):
		op = OpTags
		if why := p.opRefusal(OpTags); why != "" {
			return op, fmt.Sprintf("push to %s refused: %s", ref, why)
		}
		switch {
		case del && !p.delete:
			return op, fmt.Sprintf("deleting %s refused: %s.delete is false", ref, p.key)
		case !create && !del && !p.force:
			return op, fmt.Sprintf("moving tag %s refused: %s.force is false", ref, p.key)
		}
	default:
		return op, fmt.Sprintf("push to %s refused: only branches (refs/heads/) may be pushed, and tags (refs/tags/) with the %q operation", quote(u.Ref), OpTags)
	}
	if del || p.workflows {
		return op, ""
	}
	if pack == nil {
		return op, fmt.Sprintf("push to %s refused: no pack to check for %s changes; %s.workflows is false", ref, WorkflowPrefix, p.key)
	}
	path, found, err := pack.NewContentUnder([]string{u.New}, WorkflowPrefix)
	if err != nil {
		return op, fmt.Sprintf("push to %s refused: cannot check the pack for %s changes (%s); %s.workflows is false", ref, WorkflowPrefix, quote(err.Error()), p.key)
	}
	if found {
		return op, fmt.Sprintf("push to %s refused: it changes %s (%s); %s.workflows is false", ref, WorkflowPrefix, quote(path), p.key)
	}
	return op, ""
}

// validID: a SHA-1 or SHA-256 object id in lower-case hex, as git sends.
func validID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func isZeroID(s string) bool {
	return s != "" && strings.Trim(s, "0") == ""
}

// validRefName follows git check-ref-format, so that the name checked is
// the name git and GitHub store, and also refuses invalid UTF-8 and
// invisible format characters (a right-to-left override makes a branch
// read as another to the people reviewing it).
func validRefName(s string) bool {
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return unicode.Is(unicode.Cf, r) || unicode.IsControl(r) }) {
		return false
	}
	if !strings.HasPrefix(s, "refs/") || len(s) > 1024 || s == "@" ||
		strings.Contains(s, "..") || strings.Contains(s, "@{") || strings.Contains(s, "//") ||
		strings.HasSuffix(s, "/") || strings.HasSuffix(s, ".") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || strings.IndexByte(" ~^:?*[\\", c) >= 0 {
			return false
		}
	}
	for _, comp := range strings.Split(s, "/") {
		if comp == "" || strings.HasPrefix(comp, ".") || strings.HasSuffix(comp, ".lock") {
			return false
		}
	}
	return true
}
