package gitwire

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing"
	"testing"
)

// packBuilder writes a packfile object by object, the way git lays one
// out, so a test can build shapes git itself never sends (deep chains,
// REF_DELTA, huge zero blobs) without holding the inflated content.
type packBuilder struct {
	t     testing.TB
	body  bytes.Buffer // after the 12-byte header
	offs  []int64      // each object's offset in the pack
	sizes []uint64     // each object's inflated (or delta result) size
}

const (
	typeBlob     = 3
	typeOFSDelta = 6
	typeREFDelta = 7
)

// objHeader is the type-and-size header: 3 bits of type, then the size
// 4 bits first and 7 bits a byte after.
func objHeader(typ int, size uint64) []byte {
	b := []byte{byte(typ<<4) | byte(size&0x0f)}
	size >>= 4
	for size > 0 {
		b[len(b)-1] |= 0x80
		b = append(b, byte(size&0x7f))
		size >>= 7
	}
	return b
}

// leb128 is a delta header's size varint.
func leb128(v uint64) []byte {
	var b []byte
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// ofsDistance is OFS_DELTA's big-endian "offset minus one per byte" encoding.
func ofsDistance(d uint64) []byte {
	b := []byte{byte(d & 0x7f)}
	for d >>= 7; d > 0; d >>= 7 {
		d--
		b = append([]byte{0x80 | byte(d&0x7f)}, b...)
	}
	return b
}

func (p *packBuilder) deflate(write func(w *zlib.Writer)) {
	w, err := zlib.NewWriterLevel(&p.body, zlib.BestSpeed)
	if err != nil {
		p.t.Fatal(err)
	}
	write(w)
	if err := w.Close(); err != nil {
		p.t.Fatal(err)
	}
}

func (p *packBuilder) start(size uint64) int {
	p.offs = append(p.offs, 12+int64(p.body.Len()))
	p.sizes = append(p.sizes, size)
	return len(p.offs) - 1
}

// blob adds a blob holding data.
func (p *packBuilder) blob(data []byte) int {
	i := p.start(uint64(len(data)))
	p.body.Write(objHeader(typeBlob, uint64(len(data))))
	p.deflate(func(w *zlib.Writer) { w.Write(data) })
	return i
}

// zeroBlob adds a blob of size zero bytes, deflated from a small buffer.
func (p *packBuilder) zeroBlob(size uint64) int {
	i := p.start(size)
	p.body.Write(objHeader(typeBlob, size))
	p.deflate(func(w *zlib.Writer) {
		zero := make([]byte, 1<<20)
		for left := size; left > 0; {
			n := min(left, uint64(len(zero)))
			w.Write(zero[:n])
			left -= n
		}
	})
	return i
}

// growDelta is a delta that copies all of a base of baseSize bytes and
// appends one byte, so every link of a chain is a distinct object.
func growDelta(baseSize uint64) []byte {
	d := append(leb128(baseSize), leb128(baseSize+1)...)
	for off := uint64(0); off < baseSize; {
		n := min(baseSize-off, 0xffff00)
		d = append(d, 0x80|0x0f|0x70,
			byte(off), byte(off>>8), byte(off>>16), byte(off>>24),
			byte(n), byte(n>>8), byte(n>>16))
		off += n
	}
	return append(d, 1, 'x')
}

// ofsDelta adds an OFS_DELTA against object base (growDelta).
func (p *packBuilder) ofsDelta(base int) int {
	d := growDelta(p.sizes[base])
	i := p.start(p.sizes[base] + 1)
	p.body.Write(objHeader(typeOFSDelta, uint64(len(d))))
	p.body.Write(ofsDistance(uint64(p.offs[i] - p.offs[base])))
	p.deflate(func(w *zlib.Writer) { w.Write(d) })
	return i
}

// refDelta adds a REF_DELTA against the object with id base, of baseSize bytes.
func (p *packBuilder) refDelta(base [20]byte, baseSize uint64) int {
	d := growDelta(baseSize)
	i := p.start(baseSize + 1)
	p.body.Write(objHeader(typeREFDelta, uint64(len(d))))
	p.body.Write(base[:])
	p.deflate(func(w *zlib.Writer) { w.Write(d) })
	return i
}

// chain adds a base of size bytes (zeros) and n OFS deltas, each on the last.
func (p *packBuilder) chain(size uint64, n int) {
	last := p.zeroBlob(size)
	for range n {
		last = p.ofsDelta(last)
	}
}

// bytes is the whole pack: header, objects, SHA-1 trailer.
func (p *packBuilder) bytes() []byte {
	var out bytes.Buffer
	out.WriteString("PACK")
	binary.Write(&out, binary.BigEndian, uint32(2))
	binary.Write(&out, binary.BigEndian, uint32(len(p.offs)))
	out.Write(p.body.Bytes())
	sum := sha1.Sum(out.Bytes())
	out.Write(sum[:])
	return out.Bytes()
}

// blobID is git's id of a blob holding data.
func blobID(data []byte) [20]byte {
	h := sha1.New()
	h.Write([]byte("blob "))
	h.Write([]byte(strconv.Itoa(len(data))))
	h.Write([]byte{0})
	h.Write(data)
	var id [20]byte
	copy(id[:], h.Sum(nil))
	return id
}

const (
	typeCommit = 1
	typeTree   = 2
)

// object adds a whole (non-delta) object of type typ and returns its id.
func (p *packBuilder) object(typ int, kind string, data []byte) plumbing.Hash {
	p.start(uint64(len(data)))
	p.body.Write(objHeader(typ, uint64(len(data))))
	p.deflate(func(w *zlib.Writer) { w.Write(data) })
	h := sha1.New()
	h.Write([]byte(kind + " " + strconv.Itoa(len(data)) + "\x00"))
	h.Write(data)
	var id plumbing.Hash
	copy(id[:], h.Sum(nil))
	return id
}
