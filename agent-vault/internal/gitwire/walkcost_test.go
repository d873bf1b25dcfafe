package gitwire

import (
	"bytes"
	"fmt"
	"testing"
)

// TestNewContentUnderReadsEachTreeOnce: commits sharing one root tree
// (cheap to send: one tree, many ~100-byte commits) must not make the
// walk resolve that tree once per commit, which with a tree that is a
// long delta chain would cost the chain again for each commit.
func TestNewContentUnderReadsEachTreeOnce(t *testing.T) {
	const commits = 100
	b := packBuilder{t: t}
	inner := b.object(typeTree, "tree", append([]byte("100644 x.yml\x00"), make([]byte, 20)...))
	root := b.object(typeTree, "tree", append([]byte("40000 .github\x00"), inner[:]...))
	var tip string
	for i := range commits {
		msg := fmt.Sprintf("tree %s\n", root)
		if tip != "" {
			msg += "parent " + tip + "\n"
		}
		msg += fmt.Sprintf("author a <a@b> 0 +0000\ncommitter a <a@b> 0 +0000\n\ncommit %d\n", i)
		tip = b.object(typeCommit, "commit", []byte(msg)).String()
	}
	p, err := ReadPack(bytes.NewReader(b.bytes()), 1<<20)
	if err != nil {
		t.Fatalf("ReadPack: %v", err)
	}
	defer p.Close()
	got, found, err := p.NewContentUnder([]string{tip}, ".github/workflows")
	if err != nil || found {
		t.Fatalf("NewContentUnder = %q, %v, %v; want nothing found", got, found, err)
	}
	if want := commits + 2; p.reads != want {
		t.Errorf("NewContentUnder read %d objects for %d commits sharing one tree, want %d (each commit and tree once)", p.reads, commits, want)
	}
}
