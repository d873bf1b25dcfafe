package gitwire

import (
	"bytes"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// FuzzReadPack: whatever bytes arrive where a pack belongs, ReadPack and
// the walks over what it accepts end in a value or an error, never a
// panic or a hang.
func FuzzReadPack(f *testing.F) {
	f.Add(rawPack(0))
	f.Add(rawPack(1, 0x30, 0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01))
	f.Add(rawPack(1, 0xb0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 0x78, 0x9c))
	f.Add([]byte("PACK"))
	chain := packBuilder{t: f}
	chain.chain(64, 3)
	f.Add(chain.bytes())
	ref := packBuilder{t: f}
	ref.blob([]byte("hello\n"))
	ref.refDelta(blobID([]byte("hello\n")), 6)
	f.Add(ref.bytes())
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ReadPack(bytes.NewReader(body), 1<<16)
		if err != nil {
			return
		}
		defer p.Close()
		for id := range p.types {
			p.IsAncestor(id.String(), zeroID)
			p.NewContentUnder([]string{id.String()}, ".github/workflows")
		}
	})
}

// FuzzObjectDecoders: the commit, tag and tree decoders never panic, and
// a tree they accept re-encodes to the same bytes.
func FuzzObjectDecoders(f *testing.F) {
	f.Add([]byte("tree " + idA + "\nparent " + idB + "\nauthor x\n\nmsg\n"))
	f.Add([]byte("object " + idA + "\ntype commit\n"))
	f.Add(append([]byte("100644 a.yml\x00"), bytes.Repeat([]byte{1}, 20)...))
	f.Add(append([]byte("40000 workflows\x00"), bytes.Repeat([]byte{2}, 20)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		commitLinks(b)
		tagTarget(b)
		entries, err := treeEntries(b)
		if err != nil {
			return
		}
		n := 0
		for _, e := range entries {
			if e.id == (plumbing.Hash{}) && len(e.name) == 0 {
				t.Fatalf("empty entry accepted from %q", b)
			}
			n += len(e.name) + 1 + 20
		}
		if n > len(b) {
			t.Fatalf("entries cover %d bytes of %d", n, len(b))
		}
	})
}
