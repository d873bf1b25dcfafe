package gitwire

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// IsAncestor reports whether ancestor is reachable from tip by walking
// parents through the commits present in the pack (tip == ancestor is
// true). A commit not in the pack ends its branch of the walk: it is
// already on the server, and the client sent every commit the server
// lacks. So for an update Old -> New, IsAncestor(New, Old) is true for a
// fast-forward and false for a rewrite; it is also false when New is a
// commit the server already has (a branch moved to another existing
// commit), which a caller may treat as not proven fast-forward.
// Annotated tags in the pack are peeled to what they point at.
func (p *Pack) IsAncestor(tip, ancestor string) (bool, error) {
	t, err := hashOf([]byte(tip))
	if err != nil {
		return false, fmt.Errorf("is-ancestor: tip: %w", err)
	}
	a, err := hashOf([]byte(ancestor))
	if err != nil {
		return false, fmt.Errorf("is-ancestor: ancestor: %w", err)
	}
	found := false
	err = p.walkCommits([]plumbing.Hash{t}, func(id plumbing.Hash, _ plumbing.Hash) (bool, error) {
		found = id == a
		return found, nil
	})
	if err != nil {
		return false, fmt.Errorf("is-ancestor %s %s: %w", tip, ancestor, err)
	}
	return found, nil
}

// NewContentUnder reports whether the push brings new content at or
// under prefix (for example ".github/workflows"): for each commit
// reachable from tips through commits in the pack, it follows prefix's
// segments from the commit's root tree through trees in the pack; any
// tree or blob at or under prefix that is in the pack is new content, and
// the first path found is returned. A tree that is not in the pack is
// already on the server with everything it holds, so nothing below it is
// new. Segments match case-insensitively, so a differently cased
// directory also counts (refusing too much rather than too little).
//
// This is honest only for a non-thin pack (hence AddNoThin): in a thin
// pack an object may be a delta against one outside the pack, and its id
// cannot be known without that base, so new content could hide behind it;
// ReadPack refuses thin packs. The pack lacks only objects the server
// already has, so anything new is in it.
//
// What it cannot see is content that is not new. A workflow restored to
// content the server already has (a revert to an earlier state of the
// directory, a copy of another branch's directory) reuses a tree the
// server knows, so nothing under the prefix is in the pack although the
// workflows the branch runs changed. Deleting the whole directory leaves
// nothing at the prefix to find (only the parent tree is new). Changing,
// adding or deleting one file inside the directory is found, as the
// directory's tree is then new. A caller that must stop those cases too
// has to compare against the server's trees, which needs an upstream
// fetch; this check works on the request alone.
func (p *Pack) NewContentUnder(tips []string, prefix string) (string, bool, error) {
	segs := strings.Split(strings.Trim(prefix, "/"), "/")
	if prefix == "" || strings.Trim(prefix, "/") == "" {
		return "", false, errors.New("new-content-under: empty prefix")
	}
	var starts []plumbing.Hash
	for _, tip := range tips {
		h, err := hashOf([]byte(tip))
		if err != nil {
			return "", false, fmt.Errorf("new-content-under: tip: %w", err)
		}
		starts = append(starts, h)
	}
	var foundPath string
	seen := map[treeAt]bool{}
	err := p.walkCommits(starts, func(_ plumbing.Hash, tree plumbing.Hash) (bool, error) {
		if tree.IsZero() {
			return false, nil // not a commit in the pack
		}
		fp, ok, err := p.under(tree, segs, "", seen)
		if err != nil {
			return false, err
		}
		foundPath = fp
		return ok, nil
	})
	if err != nil {
		return "", false, fmt.Errorf("new-content-under %q: %w", prefix, err)
	}
	return foundPath, foundPath != "", nil
}

// walkCommits visits each id reachable from starts through the pack's
// commits (peeling its tags), once, calling visit with the id and, for a
// commit in the pack, its root tree. visit returning true stops the walk.
// The caller must not hold p.mu.
func (p *Pack) walkCommits(starts []plumbing.Hash, visit func(id, tree plumbing.Hash) (bool, error)) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := map[plumbing.Hash]bool{}
	queue := append([]plumbing.Hash(nil), starts...)
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if seen[id] {
			continue
		}
		seen[id] = true
		typ, ok := p.has(id)
		var tree plumbing.Hash
		var next []plumbing.Hash
		if ok && (typ == plumbing.CommitObject || typ == plumbing.TagObject) {
			b, err := p.content(id)
			if err != nil {
				return err
			}
			if typ == plumbing.TagObject {
				t, err := tagTarget(b)
				if err != nil {
					return fmt.Errorf("tag %s: %w", id, err)
				}
				next = []plumbing.Hash{t}
			} else if tree, next, err = commitLinks(b); err != nil {
				return fmt.Errorf("commit %s: %w", id, err)
			}
		}
		stop, err := visit(id, tree)
		if err != nil || stop {
			return err
		}
		queue = append(queue, next...)
	}
	return nil
}

// treeAt is a tree reached with some segments of the prefix left.
type treeAt struct {
	id   plumbing.Hash
	left int
}

// under follows segs from tree; the caller holds p.mu. seen holds the
// trees already followed with as many segments left: they found nothing
// (a find ends the walk), and reading them again for every commit that
// shares them would let a few bytes of commits cost a big tree's delta
// chain each.
func (p *Pack) under(tree plumbing.Hash, segs []string, at string, seen map[treeAt]bool) (string, bool, error) {
	if typ, ok := p.has(tree); !ok || typ != plumbing.TreeObject {
		return "", false, nil
	}
	if seen[treeAt{tree, len(segs)}] {
		return "", false, nil
	}
	seen[treeAt{tree, len(segs)}] = true
	b, err := p.content(tree)
	if err != nil {
		return "", false, err
	}
	entries, err := treeEntries(b)
	if err != nil {
		return "", false, fmt.Errorf("tree %s: %w", tree, err)
	}
	for _, e := range entries {
		if !strings.EqualFold(e.name, segs[0]) {
			continue
		}
		typ, ok := p.has(e.id)
		if !ok {
			continue
		}
		here := path.Join(at, e.name)
		if len(segs) == 1 {
			if typ == plumbing.TreeObject {
				return p.firstNew(e.id, here, 0)
			}
			return here, true, nil
		}
		if fp, ok, err := p.under(e.id, segs[1:], here, seen); err != nil || ok {
			return fp, ok, err
		}
	}
	return "", false, nil
}

// firstNew names the first new blob under a new tree, for a readable
// refusal; a tree with no new entry (a file was deleted) is itself the
// answer. The caller holds p.mu.
func (p *Pack) firstNew(tree plumbing.Hash, at string, depth int) (string, bool, error) {
	if depth > 64 {
		return at, true, nil
	}
	b, err := p.content(tree)
	if err != nil {
		return "", false, err
	}
	entries, err := treeEntries(b)
	if err != nil {
		return "", false, fmt.Errorf("tree %s: %w", tree, err)
	}
	for _, e := range entries {
		typ, ok := p.has(e.id)
		if !ok {
			continue
		}
		here := path.Join(at, e.name)
		if typ == plumbing.TreeObject {
			return p.firstNew(e.id, here, depth+1)
		}
		return here, true, nil
	}
	return at, true, nil
}
