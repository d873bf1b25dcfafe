package audit

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Flood summaries. A rotated log keeps a fixed number of bytes, so a client
// that makes records fast enough (refused connections cost it nothing)
// could rotate every other client's records away. With LimitFloods set, each
// client gets perWindow refusals per window written as they come; the rest
// of that window are counted, not written, and one summary record says how
// many when the window ends. A flood's first refusals are therefore always
// in the log, and it grows by at most perWindow+1 refusal records per
// client and window, however hard the client pushes.
//
// Allowed records are always written: a summary would let a client hide the
// one connection that matters among a thousand dull ones. What bounds them
// is what bounds the connections themselves (a daemon's rate limits and
// connection caps), since each costs real work upstream.

// EventSuppressed is the Event of a summary record.
const EventSuppressed = "suppressed"

// RuleFlood is the Rule of a summary record.
const RuleFlood = "audit.flood"

// Defaults for LimitFloods that a daemon's config leaves at zero.
const (
	DefaultFloodRecords = 1000
	DefaultFloodWindow  = time.Minute
)

// floodKey is who a record is charged to: the kernel's uid when the record
// has one, else its agent, else the client's host without the port (so a
// client does not get a fresh allowance per connection).
//
// The refusal's rule is part of the key: a flood of one kind of refusal
// (say, connections over a cap) must not hide the first records of another
// (an SSRF attempt) behind its count. Rules are fixed names from the
// daemons' code and configs, never text a client sends, so they add a
// handful of keys per client, not an unbounded number.
type floodKey struct {
	uid       uint32
	hasUID    bool
	who       string
	component string
	decision  Decision
	rule      string
}

// floodCount is one key's window.
type floodCount struct {
	start      time.Time
	written    int
	suppressed int64
	bytesUp    int64
	bytesDown  int64
	sample     Record // the first suppressed record, for the summary's names
	timer      func() bool
}

// flood is the Writer's summariser; the zero value is off.
type flood struct {
	on        atomic.Bool
	mu        sync.Mutex
	perWindow int
	window    time.Duration
	counts    map[floodKey]*floodCount
	now       func() time.Time
	afterFunc func(d time.Duration, f func()) (stop func() bool)
}

// maxFloodKeys bounds the map; past it, windows that ended without a
// suppression are swept.
const maxFloodKeys = 4096

// LimitFloods turns flood summaries on: each client (uid, else agent, else
// host) gets perWindow refusals (any decision but Allow) of each rule
// written per window, and the rest are counted into one summary record (Event
// EventSuppressed, Rule RuleFlood, Count) written when the window ends. perWindow <= 0 or window <= 0
// turns summaries off; pending summaries are written first. It may be called
// again to change the limits (a reload); windows already open keep their
// counts.
func (w *Writer) LimitFloods(perWindow int, window time.Duration) {
	f := &w.flood
	if perWindow <= 0 || window <= 0 {
		f.on.Store(false)
		w.Flush()
		return
	}
	f.mu.Lock()
	f.perWindow, f.window = perWindow, window
	if f.counts == nil {
		f.counts = map[floodKey]*floodCount{}
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.afterFunc == nil {
		f.afterFunc = func(d time.Duration, fn func()) func() bool { return time.AfterFunc(d, fn).Stop }
	}
	f.mu.Unlock()
	f.on.Store(true)
}

// Flush ends every open window now, writing the summaries of those that
// suppressed records. Close calls it; tests call it instead of waiting for
// a window to end.
func (w *Writer) Flush() error {
	f := &w.flood
	f.mu.Lock()
	var ended []*floodCount
	for k, c := range f.counts {
		if c.timer != nil {
			c.timer()
		}
		if c.suppressed > 0 {
			ended = append(ended, c)
		}
		delete(f.counts, k)
	}
	f.mu.Unlock()
	var first error
	for _, c := range ended {
		if err := w.writeSummary(c, f.window); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// suppress reports whether r is over its client's allowance, counting it
// if so.
func (w *Writer) suppress(r *Record) bool {
	f := &w.flood
	k := floodKey{component: r.Component, decision: r.Decision, rule: r.Rule}
	if k.decision != Allow {
		k.decision = Deny
	}
	switch {
	case r.UID != nil:
		k.uid, k.hasUID = *r.UID, true
	case r.Agent != "":
		k.who = r.Agent
	default:
		k.who = r.Client
		if h, _, err := net.SplitHostPort(r.Client); err == nil {
			k.who = h
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	c := f.counts[k]
	if c != nil && c.suppressed == 0 && now.Sub(c.start) >= f.window {
		c = nil // its window ended quietly; start another
	}
	if c == nil {
		if len(f.counts) >= maxFloodKeys {
			f.sweep(now)
		}
		c = &floodCount{start: now}
		f.counts[k] = c
	}
	if c.written < f.perWindow {
		c.written++
		return false
	}
	c.suppressed++
	c.bytesUp += r.BytesUp
	c.bytesDown += r.BytesDown
	if c.suppressed == 1 {
		c.sample = Record{Component: r.Component, Decision: k.decision, Client: r.Client, UID: r.UID, Agent: r.Agent, Rule: r.Rule, Time: now}
		if r.UID != nil {
			uid := *r.UID
			c.sample.UID = &uid
		}
		c.timer = f.afterFunc(max(c.start.Add(f.window).Sub(now), 0), func() { w.endWindow(k, c) })
	}
	return true
}

// sweep drops windows that ended without suppressing anything; f.mu is held.
func (f *flood) sweep(now time.Time) {
	for k, c := range f.counts {
		if c.suppressed == 0 && now.Sub(c.start) >= f.window {
			delete(f.counts, k)
		}
	}
}

// endWindow writes c's summary when its window ends, unless Flush did.
func (w *Writer) endWindow(k floodKey, c *floodCount) {
	f := &w.flood
	f.mu.Lock()
	if f.counts[k] != c {
		f.mu.Unlock()
		return
	}
	delete(f.counts, k)
	window := f.window
	f.mu.Unlock()
	w.writeSummary(c, window)
}

// writeSummary writes the record that stands for c's suppressed records.
func (w *Writer) writeSummary(c *floodCount, window time.Duration) error {
	who := c.sample.Client
	if c.sample.Agent != "" {
		who = c.sample.Agent
	}
	if c.sample.UID != nil {
		who = fmt.Sprintf("%s (uid %d)", who, *c.sample.UID)
	}
	r := c.sample
	r.Time = time.Now()
	r.Event = EventSuppressed
	r.Rule = RuleFlood
	rule := ""
	if c.sample.Rule != "" {
		rule = " (rule " + c.sample.Rule + ")"
	}
	r.Reason = fmt.Sprintf("suppressed %d records of decision %s%s from client %s (over %d per %s since %s)",
		c.suppressed, c.sample.Decision, rule, who, c.written, window, c.start.UTC().Format(TimeFormat))
	r.Count = c.suppressed
	r.BytesUp, r.BytesDown = c.bytesUp, c.bytesDown
	r.DurationMS = Millis(r.Time.Sub(c.start))
	return w.write(&r)
}
