package gitwire

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
)

// setLimit lowers one of the package's limits for a test.
func setLimit[T any](t *testing.T, limit *T, v T) {
	t.Helper()
	old := *limit
	*limit = v
	t.Cleanup(func() { *limit = old })
}

// wantReadPack reads body with ReadPack and checks it is accepted (want
// "") or refused with an error containing want.
func wantReadPack(t *testing.T, body []byte, want string) {
	t.Helper()
	p, err := ReadPack(bytes.NewReader(body), 256<<20)
	if err == nil {
		p.Close()
	}
	switch {
	case want == "" && err != nil:
		t.Errorf("ReadPack: %v, want it accepted", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("ReadPack error = %v, want %q", err, want)
	}
}

func TestReadPackRefusesDeepDeltaChain(t *testing.T) {
	for _, tc := range []struct {
		name  string
		depth int
		want  string
	}{
		{"git's default depth", 50, ""},
		{"one past it", 51, "delta chain of depth 51; at most 50"},
		{"60 deltas", 60, "delta chain of depth 51; at most 50"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := packBuilder{t: t}
			b.chain(1024, tc.depth)
			wantReadPack(t, b.bytes(), tc.want)
		})
	}
}

// TestReadPackRefusesResolutionBudget: resolving a delta means resolving
// its base first, so a pack's cost is bounded before go-git resolves
// anything; the attack is a ~125 KB pack whose every link is 99 MiB.
func TestReadPackRefusesResolutionBudget(t *testing.T) {
	for _, tc := range []struct {
		name   string
		chain  uint64 // MaxChainBytes; 0 keeps the default
		total  uint64 // MaxResolveBytes; 0 keeps the default
		build  func(b *packBuilder)
		want   string
		before bool // refused before go-git parses (only ReadPack's own checks name the limit)
	}{
		{
			name:  "99 MiB zero blob and 3 chained deltas",
			build: func(b *packBuilder) { b.chain(99<<20, 3) },
			want:  fmt.Sprintf("object 2 needs %d bytes at once along its delta chain; at most %d", 3*(99<<20)+1+2, 256<<20),
		},
		{
			name:  "chain at the bound",
			chain: 1000 + 1001,
			build: func(b *packBuilder) { b.chain(1000, 1) },
		},
		{
			name:  "chain over the bound",
			chain: 1000 + 1001 + 1002 - 1,
			build: func(b *packBuilder) { b.chain(1000, 2) },
			want:  "needs 3003 bytes at once along its delta chain; at most 3002",
		},
		{
			// base 1000, deltas 1000+1001, then 1000+1001+1002.
			name:  "total at the bound",
			total: 1000 + 2001 + 3003,
			build: func(b *packBuilder) { b.chain(1000, 2) },
		},
		{
			name:  "total over the bound",
			total: 3 * 1000,
			build: func(b *packBuilder) {
				b.zeroBlob(1000)
				b.zeroBlob(1000)
				b.zeroBlob(1000)
				b.zeroBlob(1)
			},
			want: "resolving the pack costs at least 3001 bytes; at most 3000",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.chain != 0 {
				setLimit(t, &MaxChainBytes, tc.chain)
			}
			if tc.total != 0 {
				setLimit(t, &MaxResolveBytes, tc.total)
			}
			b := packBuilder{t: t}
			tc.build(&b)
			wantReadPack(t, b.bytes(), tc.want)
		})
	}
}

func TestReadPackRefusesTooManyObjects(t *testing.T) {
	setLimit(t, &MaxObjects, 10)
	for _, tc := range []struct {
		name  string
		count int
		want  string
	}{
		{"at the bound", 10, ""},
		{"one over", 11, "pack of 11 objects; at most 10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := packBuilder{t: t}
			for i := range tc.count {
				b.blob([]byte(fmt.Sprint(i)))
			}
			wantReadPack(t, b.bytes(), tc.want)
		})
	}
}

// TestReadPackRefusesRefDelta: a REF_DELTA names its base by id, which
// for a base that is itself a delta is known only by resolving it; git
// sends OFS_DELTA to a server advertising ofs-delta, so a REF_DELTA is
// refused rather than costed.
func TestReadPackRefusesRefDelta(t *testing.T) {
	b := packBuilder{t: t}
	hello := []byte("hello\n")
	b.blob(hello)
	b.refDelta(blobID(hello), uint64(len(hello)))
	wantReadPack(t, b.bytes(), "object 1 is a REF_DELTA")
}

// TestReadPackAcceptsRealDeltaChains: the real git's push of a file's
// long history (OFS deltas, chains up to git's pack.depth) is accepted.
func TestReadPackAcceptsRealDeltaChains(t *testing.T) {
	s := newGitServer(t)
	work := s.clone()
	// Each revision rewrites one more line, so a revision is closest to
	// its neighbours and git deltifies it against one of them: chains.
	lines := make([]string, 400)
	for i := range lines {
		lines[i] = fmt.Sprintf("line %d of a file that changes a little each commit\n", i)
	}
	var tip string
	for rev := range 80 {
		lines[rev*5] = fmt.Sprintf("line %d rewritten in revision %d\n", rev*5, rev)
		tip = s.commit(work, fmt.Sprint("rev ", rev), map[string]string{"notes.txt": strings.Join(lines, "")})
	}
	s.git(work, "push", "-q", "origin", "main")
	body := s.lastPush()
	_, _, pack := parsePush(t, body)
	ofs, ref, depth := packShape(t, pack)
	t.Logf("real push: %d OFS deltas, %d REF deltas, deepest chain %d", ofs, ref, depth)
	if ofs == 0 || ref != 0 || depth < 10 {
		t.Errorf("real push: %d OFS deltas, %d REF deltas, deepest chain %d; want OFS deltas in chains, no REF", ofs, ref, depth)
	}
	wantAncestor(t, "real push", pack, tip, tip, true)
}

// packShape counts a pack's delta kinds and its deepest OFS chain, with
// go-git's scanner (independently of ReadPack's own pass).
func packShape(t *testing.T, p *Pack) (ofs, ref, depth int) {
	t.Helper()
	s := packfile.NewScanner(p.Replay())
	_, count, err := s.Header()
	if err != nil {
		t.Fatal(err)
	}
	depthAt := map[int64]int{}
	for range count {
		oh, err := s.NextObjectHeader()
		if err != nil {
			t.Fatal(err)
		}
		d := 0
		switch oh.Type {
		case plumbing.OFSDeltaObject:
			ofs++
			d = depthAt[oh.OffsetReference] + 1
		case plumbing.REFDeltaObject:
			ref++
		}
		depthAt[oh.Offset] = d
		depth = max(depth, d)
		if _, _, err := s.NextObject(io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	return ofs, ref, depth
}
