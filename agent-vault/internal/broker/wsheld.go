package broker

import (
	"fmt"
	"sync"
)

// Bytes of unfinished WebSocket messages agent-vault holds for one agent
// (its uid), across all its relays, and for all agents together: messages
// still arriving in either direction, and upstream's messages the scrubber
// holds back. A relay (1 MiB a message) needs a few MiB at most at once;
// without a cap an agent's 64 relays could hold hundreds of MiB of a
// process whose unit has MemoryMax=512M, and starve every other agent.
const (
	wsHeldPerAgent = 16 << 20
	wsHeldTotal    = 128 << 20
)

// The refusals of heldBytes, which end the relay that asked.
var (
	errHeldAgent = &frameError{closeTooBig, ruleBudget, fmt.Sprintf("more of unfinished websocket messages than agent-vault holds for one agent (%d MiB across its relays)", wsHeldPerAgent>>20)}
	errHeldTotal = &frameError{closeTooBig, ruleBudget, fmt.Sprintf("more of unfinished websocket messages than agent-vault holds for all agents (%d MiB)", wsHeldTotal>>20)}
)

// heldBytes counts what each agent uid holds, under a cap per uid and one
// in total (a cap <= 0 is none).
type heldBytes struct {
	mu              sync.Mutex
	perAgent, total int
	byUID           map[uint32]int
	all             int
}

func newHeldBytes(perAgent, total int) *heldBytes {
	return &heldBytes{perAgent: perAgent, total: total, byUID: map[uint32]int{}}
}

// setLimits changes the caps; what is held stays held.
func (h *heldBytes) setLimits(perAgent, total int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.perAgent, h.total = perAgent, total
}

// take adds n bytes to uid's count, or refuses with the cap it would pass.
func (h *heldBytes) take(uid uint32, n int) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.perAgent > 0 && h.byUID[uid]+n > h.perAgent {
		return errHeldAgent
	}
	if h.total > 0 && h.all+n > h.total {
		return errHeldTotal
	}
	h.byUID[uid] += n
	h.all += n
	return nil
}

// give takes n bytes off uid's count.
func (h *heldBytes) give(uid uint32, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.byUID[uid] -= n; h.byUID[uid] <= 0 {
		delete(h.byUID, uid)
	}
	h.all -= n
}

// held is what uid holds now.
func (h *heldBytes) held(uid uint32) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.byUID[uid]
}

// A holding is what one direction of one relay holds of its agent's
// budget; one goroutine uses it. A nil holding, or one without a budget,
// holds without counting.
type holding struct {
	b   *heldBytes
	uid uint32
	n   int
}

// grow takes n more bytes, or refuses.
func (h *holding) grow(n int) error {
	if h == nil || h.b == nil || n == 0 {
		return nil
	}
	if err := h.b.take(h.uid, n); err != nil {
		return err
	}
	h.n += n
	return nil
}

// shrink gives n bytes back.
func (h *holding) shrink(n int) {
	if h == nil || h.b == nil || n == 0 {
		return
	}
	h.n -= n
	h.b.give(h.uid, n)
}

// drop gives back all it holds, when its direction of the relay ends.
func (h *holding) drop() {
	if h != nil {
		h.shrink(h.n)
	}
}
