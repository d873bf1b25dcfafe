package gitwire

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
)

// The decoders below read only what the walks need, the way git's own
// parse_commit_buffer and tree walker do, so the pack is read as GitHub
// will read it. (go-git's object package would pull in diff and OpenPGP
// code the vault has no use for.)

// commitLinks returns a commit's tree and parents: "tree <id>" first,
// then the "parent <id>" lines that immediately follow it.
func commitLinks(b []byte) (tree plumbing.Hash, parents []plumbing.Hash, err error) {
	line, rest, _ := bytes.Cut(b, []byte("\n"))
	id, ok := bytes.CutPrefix(line, []byte("tree "))
	if !ok {
		return tree, nil, errors.New("commit does not start with a tree line")
	}
	if tree, err = hashOf(id); err != nil {
		return tree, nil, fmt.Errorf("commit tree: %w", err)
	}
	for {
		line, next, _ := bytes.Cut(rest, []byte("\n"))
		id, ok := bytes.CutPrefix(line, []byte("parent "))
		if !ok {
			return tree, parents, nil
		}
		h, err := hashOf(id)
		if err != nil {
			return tree, nil, fmt.Errorf("commit parent: %w", err)
		}
		parents = append(parents, h)
		rest = next
	}
}

// tagTarget returns what an annotated tag points at ("object <id>").
func tagTarget(b []byte) (plumbing.Hash, error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	id, ok := bytes.CutPrefix(line, []byte("object "))
	if !ok {
		return plumbing.ZeroHash, errors.New("tag does not start with an object line")
	}
	return hashOf(id)
}

// treeEntry is one entry of a tree object; the mode is not needed, as
// what an entry is comes from the pack's own object type.
type treeEntry struct {
	name string
	id   plumbing.Hash
}

// treeEntries decodes a tree: "<octal mode> <name>\x00<20-byte id>"...
func treeEntries(b []byte) ([]treeEntry, error) {
	var out []treeEntry
	for len(b) > 0 {
		sp := bytes.IndexByte(b, ' ')
		if sp <= 0 {
			return nil, errors.New("tree entry without a mode")
		}
		for _, c := range b[:sp] {
			if c < '0' || c > '7' {
				return nil, fmt.Errorf("tree entry mode %q is not octal", clip(b[:sp]))
			}
		}
		b = b[sp+1:]
		nul := bytes.IndexByte(b, 0)
		if nul <= 0 || len(b) < nul+1+20 {
			return nil, errors.New("truncated tree entry")
		}
		var id plumbing.Hash
		copy(id[:], b[nul+1:nul+21])
		out = append(out, treeEntry{name: string(b[:nul]), id: id})
		b = b[nul+21:]
	}
	return out, nil
}

// hashOf parses a 40-digit hex id.
func hashOf(hex []byte) (plumbing.Hash, error) {
	s, err := objectID(hex)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return plumbing.NewHash(s), nil
}
