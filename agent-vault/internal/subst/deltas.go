package subst

import (
	"bytes"
	"fmt"
	"slices"
)

// maxDeltaStreams bounds the streams of deltas one event stream may have
// open at once; a model has a few (content blocks, choices, tool calls).
const maxDeltaStreams = 1024

// DeltaStream scrubs the text deltas of a model API's event stream (see
// parseDeltas for the two formats it reads). It takes the stream line by
// line and gives lines back: each stream of deltas (one content block and
// delta type, one choice's member, one tool call's arguments) is scrubbed
// by a MessageStream over the decoded strings, and each delta's string is
// rewritten in place with what the MessageStream released for it. Every
// other byte of every line stays as it was, and lines keep their order.
//
// A delta whose stream so far ends in any start of a secret form, even one
// byte of it, waits for the next delta of its stream, the end of its block
// or choice (content_block_stop, a finish_reason), message_stop, [DONE] or
// Flush; the lines after it wait with it. Holding on one byte costs a model
// stream one delta's delay, a few milliseconds, and lets no start of a form
// through at all.
//
// Lines of any other shape (not data, not JSON, JSON of another shape, a
// member it reads named twice in one object) pass as they are; so do
// strings of a delta type it does not know. The caller still scrubs
// data lines as one text and the whole stream as bytes (EventStream,
// Reader).
type DeltaStream struct {
	s       *Scrubber
	started bool
	queue   []*deltaLine // taken, not yet released, oldest first
	queued  int          // bytes in queue
	streams map[deltaKey]*deltaFeed
}

// deltaLine is one line of the event stream, with the strings of its
// deltas still to be scrubbed.
type deltaLine struct {
	raw     []byte
	slots   []deltaSlot // by position in raw
	waiting int         // slots not yet filled
}

type deltaSlot struct {
	line *deltaLine
	at   jspan // the string literal in raw
	text []byte
	out  []byte // text scrubbed, once filled
}

// deltaFeed is one stream of deltas: its scrubber, and the slots waiting
// for what it releases, in order.
type deltaFeed struct {
	ms   *MessageStream
	wait []*deltaSlot
}

// Deltas starts a DeltaStream.
func (s *Scrubber) Deltas() *DeltaStream {
	return &DeltaStream{s: s, streams: map[deltaKey]*deltaFeed{}}
}

// Push takes the next line of the event stream, its terminator included,
// and returns the lines now safe to release, oldest first. Push keeps no
// reference to line.
func (d *DeltaStream) Push(line []byte) ([][]byte, error) {
	l := &deltaLine{raw: bytes.Clone(line)}
	first := !d.started
	d.started = true
	var ds []delta
	var ends []deltaEnd
	if len(d.s.m.pats) > 0 {
		n, _ := lineEnd(l.raw)
		if v, ok := dataValue(l.raw[:n], first); ok {
			ds, ends = parseDeltas(l.raw[v:n])
			slices.SortFunc(ds, func(a, b delta) int { return a.at.start - b.at.start })
			l.slots = make([]deltaSlot, len(ds))
			for i, dl := range ds {
				l.slots[i] = deltaSlot{line: l, at: jspan{v + dl.at.start, v + dl.at.end}, text: dl.text}
			}
		}
	}
	d.queue = append(d.queue, l)
	d.queued += len(line)
	for i, dl := range ds {
		f := d.streams[dl.key]
		if f == nil {
			if len(d.streams) == maxDeltaStreams {
				return nil, fmt.Errorf("scrubber: more than %d streams of deltas open in one event stream", maxDeltaStreams)
			}
			f = &deltaFeed{ms: d.s.messages(1)}
			d.streams[dl.key] = f
		}
		f.wait = append(f.wait, &l.slots[i])
		l.waiting++
		rel, err := f.ms.Push(dl.text)
		if err != nil {
			return nil, err
		}
		f.fill(rel)
	}
	for _, e := range ends {
		for k, f := range d.streams {
			if e.ends(k) {
				f.fill(f.ms.Flush())
				delete(d.streams, k)
			}
		}
	}
	out := d.emit()
	if d.queued > maxHeld || len(d.queue) > maxHeldMessages {
		return nil, ErrHeldTooLong
	}
	return out, nil
}

// Flush releases every line, at the end of the event stream when no delta
// can follow.
func (d *DeltaStream) Flush() [][]byte {
	for k, f := range d.streams {
		f.fill(f.ms.Flush())
		delete(d.streams, k)
	}
	return d.emit()
}

// Held is how many lines wait.
func (d *DeltaStream) Held() int { return len(d.queue) }

// fill hands released strings to the oldest slots waiting for them.
func (f *deltaFeed) fill(rel [][]byte) {
	for _, r := range rel {
		s := f.wait[0]
		f.wait = f.wait[1:]
		s.out = r
		s.line.waiting--
	}
}

// emit renders the lines from the first on, up to one still waiting.
func (d *DeltaStream) emit() [][]byte {
	var out [][]byte
	i := 0
	for ; i < len(d.queue) && d.queue[i].waiting == 0; i++ {
		l := d.queue[i]
		out = append(out, l.render())
		d.queued -= len(l.raw)
	}
	d.queue = d.queue[i:]
	return out
}

// render is the line with each changed string re-encoded in its place.
func (l *deltaLine) render() []byte {
	var out []byte
	pos := 0
	for _, s := range l.slots {
		if bytes.Equal(s.out, s.text) {
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(l.raw)+64)
		}
		out = append(out, l.raw[pos:s.at.start]...)
		out = appendJSONString(out, s.out)
		pos = s.at.end
	}
	if out == nil {
		return l.raw
	}
	return append(out, l.raw[pos:]...)
}
