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

// maxHeld bounds what a MessageStream holds back; an upstream that keeps
// every message ending in the start of a secret ends the stream instead.
const maxHeld = 1 << 20

// ErrHeldTooLong is returned when held messages pass maxHeld.
var ErrHeldTooLong = errors.New("scrubber: more than 1 MiB of messages held back waiting to see whether a secret continues")

// MessageStream scrubs a sequence of messages that a client may join into
// one text: the data messages of a WebSocket, the data lines of server-sent
// events. A secret split across messages (its first half in one, the rest in
// the next) is replaced as if the messages were one text, so Scrubber.Bytes
// on each message alone is not enough.
//
// Messages keep their boundaries. A message that ends with the start of a
// secret form (at least holdMin bytes of it) is held back until the next
// message shows whether the form goes on; the placeholder replacing a form
// goes in the message where the form began. Forms that began in text already
// released (fewer than holdMin bytes of them) are still found, and their
// remainder is replaced.
type MessageStream struct {
	s *Scrubber
	// tail is the raw end of the released text, after the last replaced
	// form: at most maxLen-1 bytes in which a form may have begun.
	tail  []byte
	held  [][]byte
	heldN int
}

// Messages starts a MessageStream.
func (s *Scrubber) Messages() *MessageStream { return &MessageStream{s: s} }

// Push takes the next message and returns the messages now safe to release,
// oldest first, scrubbed: none, if msg (with those held before it) ends in
// the start of a form, else every held message and msg. Push keeps no
// reference to msg.
func (m *MessageStream) Push(msg []byte) ([][]byte, error) {
	m.held = append(m.held, bytes.Clone(msg))
	m.heldN += len(msg)
	if len(m.s.m.pats) == 0 {
		return m.take(), nil
	}
	buf := m.joined()
	if m.s.m.pending(buf) >= m.s.holdMin {
		if m.heldN > maxHeld {
			return nil, ErrHeldTooLong
		}
		return nil, nil
	}
	return m.release(buf), nil
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
	return m.release(m.joined())
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
// held messages. A form that began in the tail is replaced from the start
// of the first message on.
func (m *MessageStream) release(buf []byte) [][]byte {
	base := len(m.tail)
	type hit struct{ at, end, pat int }
	var hits []hit
	for pos := 0; ; {
		st, pi := m.s.m.find(buf, pos)
		if st < 0 {
			break
		}
		end := st + len(m.s.m.pats[pi])
		pos = end
		if end <= base {
			continue // wholly released before; cannot happen, as tail starts after the last form
		}
		hits = append(hits, hit{max(st, base), end, pi})
	}
	out := make([][]byte, len(m.held))
	h, off := 0, base
	for i, msg := range m.held {
		lo, hi := off, off+len(msg)
		o := make([]byte, 0, len(msg))
		for p := lo; p < hi; {
			for h < len(hits) && hits[h].end <= p {
				h++
			}
			if h < len(hits) && hits[h].at <= p {
				if hits[h].at == p && p >= lo {
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
	from := 0
	if len(hits) > 0 {
		from = hits[len(hits)-1].end
	}
	from = max(from, len(buf)-(m.s.m.maxLen-1))
	m.tail = append(m.tail[:0], buf[from:]...)
	m.held, m.heldN = nil, 0
	return out
}
