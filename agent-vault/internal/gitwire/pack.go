package gitwire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
)

const (
	// memSpool is how much of a pack is kept in memory; a larger one
	// goes to an unlinked temp file, so many pushes at once do not hold
	// their packs in RAM.
	memSpool = 8 << 20
	// maxObjectSize bounds one object's inflated size (and a delta's
	// result). GitHub refuses files over 100 MiB, so nothing legitimate
	// is lost, and a header declaring gigabytes cannot make the parser
	// allocate them.
	maxObjectSize = 100 << 20
	// objectCache bounds go-git's cache of inflated objects while walking.
	objectCache = 16 * cache.MiByte
)

// Pack is the packfile of a receive-pack request, parsed: every object's
// id is known (deltas resolved within the pack) and commits and trees can
// be read back. Its methods are safe for concurrent use.
type Pack struct {
	mu    sync.Mutex
	ra    io.ReaderAt
	size  int64
	file  *os.File // the spool when the pack did not fit memSpool
	pf    *packfile.Packfile
	types map[plumbing.Hash]plumbing.ObjectType
	reads int // objects read back by the walks (tests count them)
}

// ReadPack reads the rest of a receive-pack body (after ReadCommands) and
// parses it as a packfile. An empty rest (a delete-only push) is an empty
// Pack. More than maxBytes, a malformed pack, an object over 100 MiB, a
// pack whose resolution would cost more than the limits in cost.go allow
// (MaxObjects, MaxDeltaDepth, MaxChainBytes, MaxResolveBytes), a
// REF_DELTA, or a thin pack (a delta against an object outside the pack:
// see AddNoThin) is an error. The bytes are kept for Replay.
func ReadPack(r io.Reader, maxBytes int64) (*Pack, error) {
	p := &Pack{types: map[plumbing.Hash]plumbing.ObjectType{}}
	if err := p.spool(&boundedReader{r: r, max: maxBytes}); err != nil {
		p.Close()
		return nil, fmt.Errorf("receive-pack request: read pack: %w", err)
	}
	if p.size == 0 {
		return p, nil
	}
	if err := p.parse(); err != nil {
		p.Close()
		return nil, fmt.Errorf("receive-pack request: parse pack: %w", err)
	}
	return p, nil
}

// spool keeps r's bytes in memory, or in an unlinked temp file past
// memSpool.
func (p *Pack) spool(r io.Reader) error {
	var mem bytes.Buffer
	n, err := io.Copy(&mem, io.LimitReader(r, memSpool+1))
	if err != nil {
		return err
	}
	if n <= memSpool {
		p.ra, p.size = bytes.NewReader(mem.Bytes()), n
		return nil
	}
	f, err := os.CreateTemp("", "gitwire-pack-*")
	if err != nil {
		return fmt.Errorf("spool to temp file: %w", err)
	}
	p.file = f
	// Unlinked at once: the bytes live only as long as the open file, so
	// a crash leaves nothing behind in the temp directory.
	if err := os.Remove(f.Name()); err != nil {
		return fmt.Errorf("spool to temp file: unlink: %w", err)
	}
	if _, err := f.Write(mem.Bytes()); err != nil {
		return fmt.Errorf("spool to temp file: %w", err)
	}
	m, err := io.Copy(f, r)
	if err != nil {
		return fmt.Errorf("spool to temp file: %w", err)
	}
	p.ra, p.size = f, n+m
	return nil
}

func (p *Pack) section() *io.SectionReader { return io.NewSectionReader(p.ra, 0, p.size) }

// parse checks what resolving the pack would cost (checkCost), then has
// go-git index the pack (resolving deltas within it) and records each
// object's type.
func (p *Pack) parse() error {
	if err := checkCost(p.section()); err != nil {
		return err
	}
	idx := new(idxfile.Writer)
	types := &typeRecorder{types: p.types}
	parser, err := packfile.NewParser(packfile.NewScanner(p.section()), idx, types)
	if err != nil {
		return err
	}
	if _, err := parser.Parse(); err != nil {
		if errors.Is(err, packfile.ErrReferenceDeltaNotFound) {
			return errors.New("thin pack: an object is a delta against one outside the pack (the client ignored no-thin)")
		}
		return err
	}
	index, err := idx.Index()
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	p.pf = packfile.NewPackfileWithCache(index, nil, packFile{p.section()}, cache.NewObjectLRU(objectCache), 0)
	return nil
}

// typeRecorder is a parser observer that keeps each object's resolved
// type (go-git's index keeps only ids and offsets).
type typeRecorder struct {
	types map[plumbing.Hash]plumbing.ObjectType
	last  plumbing.ObjectType
}

func (t *typeRecorder) OnHeader(uint32) error { return nil }
func (t *typeRecorder) OnInflatedObjectHeader(typ plumbing.ObjectType, _, _ int64) error {
	t.last = typ
	return nil
}
func (t *typeRecorder) OnInflatedObjectContent(h plumbing.Hash, _ int64, _ uint32, _ []byte) error {
	t.types[h] = t.last
	return nil
}
func (t *typeRecorder) OnFooter(plumbing.Hash) error { return nil }

// Replay returns the pack's bytes again, from the start, to send upstream.
func (p *Pack) Replay() io.Reader { return p.section() }

// Len is the pack's size in bytes (0 for a delete-only push).
func (p *Pack) Len() int64 { return p.size }

// Close releases the spool file, if any.
func (p *Pack) Close() error {
	if p.file == nil {
		return nil
	}
	err := p.file.Close()
	p.file = nil
	return err
}

// has reports whether id is an object in the pack, and its type.
func (p *Pack) has(id plumbing.Hash) (plumbing.ObjectType, bool) {
	t, ok := p.types[id]
	return t, ok
}

// content reads an object of the pack; the caller holds p.mu.
func (p *Pack) content(id plumbing.Hash) ([]byte, error) {
	p.reads++
	o, err := p.pf.Get(id)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", id, err)
	}
	rc, err := o.Reader()
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", id, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxObjectSize+1))
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", id, err)
	}
	return b, nil
}

// packFile gives go-git's Packfile the read-only file it wants.
type packFile struct{ *io.SectionReader }

var errReadOnly = errors.New("gitwire: pack is read-only")

func (packFile) Name() string              { return "pack" }
func (packFile) Write([]byte) (int, error) { return 0, errReadOnly }
func (packFile) Close() error              { return nil }
func (packFile) Lock() error               { return nil }
func (packFile) Unlock() error             { return nil }
func (packFile) Truncate(int64) error      { return errReadOnly }
