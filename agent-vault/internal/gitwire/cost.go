package gitwire

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
)

// The limits below bound what resolving a pushed pack costs, checked
// from the objects' headers before go-git parses it: go-git resolves a
// delta by resolving its base first, recursively, and caches a base only
// when it is under 96 MiB and its cache has room, so a 125 KB pack of a
// 99 MiB zero blob and a chain of tiny deltas costs gigabytes and
// quadratic time. They are variables so tests can lower them.
var (
	// MaxObjects bounds the objects in one pack: go-git keeps several
	// index entries per object, and a 256 MiB pack could hold 11M tiny
	// ones (several GB).
	MaxObjects uint32 = 200_000
	// MaxResolveBytes bounds the bytes inflated or produced while
	// resolving the whole pack, each object costed as if go-git's cache
	// held nothing: a base costs its size, a delta its result plus its
	// base's cost again.
	MaxResolveBytes uint64 = 2 << 30
	// MaxChainBytes bounds one object's cost, which is its delta chain's
	// sizes summed: while go-git resolves a delta it holds every object
	// along the chain at once.
	MaxChainBytes uint64 = 256 << 20
)

// MaxDeltaDepth bounds a delta chain (git's own pack.depth default, so
// the packs git sends by default pass).
const MaxDeltaDepth = 50

// objectCost is what checkCost keeps of one object: no content.
type objectCost struct {
	offset int64
	size   uint64 // inflated size; a delta's result size
	depth  int    // deltas between it and its base object
	cost   uint64 // bytes resolving it produces without a cache (its chain's sizes)
}

// checkCost scans the pack once, without keeping content, and refuses
// it before go-git parses anything when resolving it would cost too
// much: too many objects, an object (or delta result) declared over
// maxObjectSize (go-git sizes its buffers from these declarations), a
// delta chain deeper than MaxDeltaDepth, a chain over MaxChainBytes, or
// a pack over MaxResolveBytes in all. A REF_DELTA is refused: its base
// is named by id, known only by resolving, and git sends OFS_DELTA to a
// server that advertises ofs-delta (GitHub does). Errors say what and by
// how much, never content.
func checkCost(r io.Reader) error {
	s := packfile.NewScanner(r)
	_, count, err := s.Header()
	if err != nil {
		return err
	}
	if count > MaxObjects {
		return fmt.Errorf("pack of %d objects; at most %d", count, MaxObjects)
	}
	objects := make([]objectCost, 0, min(count, 1<<16))
	var total uint64
	for i := uint32(0); i < count; i++ {
		oh, err := s.NextObjectHeader()
		if err != nil {
			return fmt.Errorf("object %d: %w", i, err)
		}
		if oh.Length > maxObjectSize {
			return fmt.Errorf("object %d declares %d bytes, over the %d limit", i, oh.Length, maxObjectSize)
		}
		o := objectCost{offset: oh.Offset, size: uint64(oh.Length), cost: uint64(oh.Length)}
		switch oh.Type {
		case plumbing.REFDeltaObject:
			return fmt.Errorf("object %d is a REF_DELTA (a delta naming its base by id: a thin pack, or a client that ignored ofs-delta); only OFS_DELTA is accepted", i)
		case plumbing.OFSDeltaObject:
			var head headWriter
			if _, _, err := s.NextObject(&head); err != nil {
				return fmt.Errorf("object %d: %w", i, err)
			}
			target, err := deltaTargetSize(head.b)
			if err != nil {
				return fmt.Errorf("object %d: %w", i, err)
			}
			if target > maxObjectSize {
				return fmt.Errorf("object %d: delta result of %d bytes, over the %d limit", i, target, maxObjectSize)
			}
			// Objects come in offset order, and a base precedes its delta.
			j, ok := slices.BinarySearchFunc(objects, oh.OffsetReference, func(o objectCost, off int64) int {
				return cmp.Compare(o.offset, off)
			})
			if !ok {
				return fmt.Errorf("object %d: delta base at offset %d is not an object of the pack", i, oh.OffsetReference)
			}
			base := objects[j]
			o.size, o.depth, o.cost = target, base.depth+1, base.cost+target
			if o.depth > MaxDeltaDepth {
				return fmt.Errorf("object %d: delta chain of depth %d; at most %d", i, o.depth, MaxDeltaDepth)
			}
		}
		if o.cost > MaxChainBytes {
			return fmt.Errorf("object %d needs %d bytes at once along its delta chain; at most %d", i, o.cost, MaxChainBytes)
		}
		if total += o.cost; total > MaxResolveBytes {
			return fmt.Errorf("resolving the pack costs at least %d bytes; at most %d", total, MaxResolveBytes)
		}
		objects = append(objects, o)
	}
	return nil
}

// headWriter keeps the first bytes written to it (a delta's header) and
// drops the rest.
type headWriter struct{ b []byte }

func (h *headWriter) Write(p []byte) (int, error) {
	if room := 20 - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// deltaTargetSize reads a delta's header: base size, then result size,
// each a little-endian base-128 varint.
func deltaTargetSize(b []byte) (uint64, error) {
	var sizes [2]uint64
	for i := range sizes {
		var v uint64
		var shift uint
		for {
			if len(b) == 0 || shift > 63 {
				return 0, errors.New("truncated delta header")
			}
			c := b[0]
			b = b[1:]
			v |= uint64(c&0x7f) << shift
			shift += 7
			if c&0x80 == 0 {
				break
			}
		}
		sizes[i] = v
	}
	return sizes[1], nil
}
