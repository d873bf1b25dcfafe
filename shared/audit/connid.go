package audit

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"time"
)

// NewConnID returns a new connection ID: 32 hex digits, the first 16 the
// wall clock in nanoseconds (so IDs sort roughly by creation time across
// processes), the last 16 random (so two in the same nanosecond differ). IDs
// only need to be unique, not unguessable, so math/rand's per-thread
// generator, seeded from the kernel, is enough and costs no syscall. Safe
// for concurrent use.
func NewConnID() string {
	var raw [16]byte
	binary.BigEndian.PutUint64(raw[:8], uint64(time.Now().UnixNano()))
	binary.BigEndian.PutUint64(raw[8:], rand.Uint64())
	var out [32]byte
	hex.Encode(out[:], raw[:])
	return string(out[:])
}
