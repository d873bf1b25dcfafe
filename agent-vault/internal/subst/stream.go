package subst

import (
	"bytes"
	"errors"
)

// defaultHoldMin is the shortest start of a secret form for which a
// MessageStream holds a message back. Shorter starts are let through: a
// message ending in one or two letters that happen to begin some form is
// common, and holding it would stall a request-and-answer protocol until the
// peer's next message; what the agent learns from them is at most the first
// three characters of a form, and the rest is still replaced when it comes.
const defaultHoldMin = 4

// maxHeld and maxHeldMessages bound what a MessageStream (or DeltaStream)
// holds back; an upstream that keeps every message ending in the start of a
// secret ends the stream instead.
const (
	maxHeld         = 1 << 20
	maxHeldMessages = 1 << 12
)

// ErrHeldTooLong is returned when what is held passes maxHeld bytes or
// maxHeldMessages messages (or lines, in a DeltaStream).
var ErrHeldTooLong = errors.New("scrubber: more than 1 MiB or 4096 messages held back waiting to see whether a secret continues")

// MessageStream scrubs a sequence of messages that a client may join into
// one text: the data messages of a WebSocket, the data lines of server-sent
// events. A secret split across messages (its first half in one, the rest in
// the next) is replaced as if the messages were one text, so Scrubber.Bytes
// on each message alone is not enough.
//
// Messages keep their boundaries. A message that ends with the start of a
// secret form (at least hold bytes of it) is held back until the next
// message shows whether the form goes on; the placeholder replacing a form
// goes in the message where the form began. Forms that began in text already
// released (fewer than hold bytes of them) are still found, and their
// remainder is replaced. Only the messages that reach into that start wait:
// those wholly before it are released at once.
type MessageStream struct {
	s    *Scrubber
	hold int // shortest start of a form that holds messages back (>= 1)
	// tail is the raw end of the released text, after the last replaced
	// form: at most maxLen-1 bytes in which a form may have begun.
	tail []byte
	// skip is how many bytes at the start of the held text belong to a
	// form already replaced in a released message (tail is then empty).
	skip  int
	held  [][]byte
	heldN int
}

// Messages starts a MessageStream that lets through ends of fewer than four
// bytes (see defaultHoldMin).
func (s *Scrubber) Messages() *MessageStream { return s.messages(s.holdMin) }

// messages starts a MessageStream that holds back any end of hold bytes or
// more that begins a form.
func (s *Scrubber) messages(hold int) *MessageStream {
	return &MessageStream{s: s, hold: max(hold, 1)}
}

// Push takes the next message and returns the messages now safe to release,
// oldest first, scrubbed: every held message (msg included) that ends before
// the start of a form the text ends in, or all of them if it ends in none.
// Push keeps no reference to msg.
func (m *MessageStream) Push(msg []byte) ([][]byte, error) {
	m.held = append(m.held, bytes.Clone(msg))
	m.heldN += len(msg)
	if len(m.s.m.pats) == 0 {
		return m.take(), nil
	}
	buf := m.joined()
	p := m.s.m.pending(buf[m.skip:])
	if p < m.hold {
		return m.release(buf, len(m.held)), nil
	}
	// Text before the pending end is final: a form the next message could
	// complete starts inside that end, and so does any longer form that a
	// form complete in buf could still grow into.
	k, end := 0, len(m.tail)
	for k < len(m.held) && end+len(m.held[k]) <= len(buf)-p {
		end += len(m.held[k])
		k++
	}
	var out [][]byte
	if k > 0 {
		out = m.release(buf, k)
	}
	if m.heldN > maxHeld || len(m.held) > maxHeldMessages {
		return nil, ErrHeldTooLong
	}
	return out, nil
}

// Flush releases what is held, at the end of the stream when nothing can
// complete a form any more.
func (m *MessageStream) Flush() [][]byte {
	if len(m.held) == 0 {
		return nil
	}
	if len(m.s.m.pats) == 0 {
		return m.take()
	}
	return m.release(m.joined(), len(m.held))
}

// Held is how many messages wait.
func (m *MessageStream) Held() int { return len(m.held) }

func (m *MessageStream) take() [][]byte {
	out := m.held
	m.held, m.heldN = nil, 0
	return out
}

// joined is tail followed by every held message.
func (m *MessageStream) joined() []byte {
	buf := make([]byte, 0, len(m.tail)+m.heldN)
	buf = append(buf, m.tail...)
	for _, h := range m.held {
		buf = append(buf, h...)
	}
	return buf
}

// release scrubs buf (tail + held) and splits the result back into the
// first k held messages, which it releases. A form that began in the tail is
// replaced from the start of the first message on; one that begins in the
// released messages and ends in a held one is replaced where it begins, and
// the rest of it is skipped at the next release.
func (m *MessageStream) release(buf []byte, k int) [][]byte {
	base := len(m.tail)
	relEnd := base
	for _, msg := range m.held[:k] {
		relEnd += len(msg)
	}
	type hit struct{ at, end, pat int }
	var hits []hit
	pos := 0
	if m.skip > 0 { // base is 0: no tail
		hits = append(hits, hit{0, m.skip, -1})
		pos = m.skip
	}
	for {
		st, pi := m.s.m.find(buf, pos)
		if st < 0 || st >= relEnd {
			break
		}
		end := st + len(m.s.m.pats[pi])
		pos = end
		if end <= base {
			continue // wholly released before; cannot happen, as tail starts after the last form
		}
		hits = append(hits, hit{max(st, base), end, pi})
	}
	out := make([][]byte, k)
	h, off := 0, base
	for i, msg := range m.held[:k] {
		lo, hi := off, off+len(msg)
		o := make([]byte, 0, len(msg))
		for p := lo; p < hi; {
			for h < len(hits) && hits[h].end <= p {
				h++
			}
			if h < len(hits) && hits[h].at <= p {
				if hits[h].at == p && p >= lo && hits[h].pat >= 0 {
					o = append(o, m.s.repl[hits[h].pat]...)
				}
				p = min(hits[h].end, hi)
				continue
			}
			next := hi
			if h < len(hits) && hits[h].at < next {
				next = hits[h].at
			}
			o = append(o, buf[p:next]...)
			p = next
		}
		out[i] = o
		off = hi
	}
	// The new tail starts after the last form that ended in the released
	// text. A form running on into the held messages (only the last can)
	// was replaced where it began; the rest of it is skipped.
	from := 0
	m.skip = 0
	for _, ht := range hits {
		if ht.end <= relEnd {
			from = ht.end
		} else {
			m.skip = ht.end - relEnd
		}
	}
	if m.skip > 0 {
		m.tail = m.tail[:0]
	} else {
		from = max(from, relEnd-(m.s.m.maxLen-1))
		m.tail = append(m.tail[:0], buf[from:relEnd]...)
	}
	m.heldN -= relEnd - base
	if k == len(m.held) {
		m.held = nil
	} else {
		m.held = append([][]byte(nil), m.held[k:]...)
	}
	return out
}
