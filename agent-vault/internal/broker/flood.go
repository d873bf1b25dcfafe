package broker

import (
	"fmt"
	"sync"
	"time"

	"github.com/clemhq/clem/shared/audit"
)

// floodWindow is how long refusals of one kind to one uid are counted
// rather than written, after the first is written in full.
const floodWindow = 10 * time.Second

// floodLog writes the first refusal of a kind for a uid in full and only
// counts those that follow within the window, then writes one summary: an
// agent flooding the broker past its limits cannot fill the audit log and
// rotate other agents' records (or its own first refusal) out of it.
type floodLog struct {
	write  func(*audit.Record)
	window time.Duration

	mu sync.Mutex
	m  map[floodKey]*floodState
}

type floodKey struct {
	uid  uint32
	kind string
}

type floodState struct {
	since      time.Time
	suppressed uint64
	last       audit.Record
	timer      *time.Timer
}

func newFloodLog(write func(*audit.Record)) *floodLog {
	return &floodLog{write: write, window: floodWindow, m: map[floodKey]*floodState{}}
}

// refuse records a refusal of kind for the uid of rec.
func (f *floodLog) refuse(rec *audit.Record, kind string) {
	k := floodKey{kind: kind}
	if rec.UID != nil {
		k.uid = *rec.UID
	}
	f.mu.Lock()
	st := f.m[k]
	if st != nil {
		st.suppressed++
		st.last = *rec
		f.mu.Unlock()
		return
	}
	st = &floodState{since: rec.Time}
	f.m[k] = st
	st.timer = time.AfterFunc(f.window, func() { f.summarize(k) })
	f.mu.Unlock()
	f.write(rec)
}

// summarize writes how many refusals of k were not written, and starts
// over: the next one is written in full.
func (f *floodLog) summarize(k floodKey) {
	f.mu.Lock()
	st := f.m[k]
	delete(f.m, k)
	f.mu.Unlock()
	if st == nil || st.suppressed == 0 {
		return
	}
	rec := st.last
	rec.Time, rec.Event = time.Now(), "limit_summary"
	rec.ConnID, rec.DurationMS, rec.Status = "", 0, 0
	rec.Reason = fmt.Sprintf("%d more %s refusals of uid %d since %s, counted rather than written one by one; the last: %s",
		st.suppressed, k.kind, k.uid, st.since.UTC().Format(audit.TimeFormat), st.last.Reason)
	f.write(&rec)
}

// flush writes every pending summary now (at shutdown).
func (f *floodLog) flush() {
	f.mu.Lock()
	var keys []floodKey
	for k, st := range f.m {
		st.timer.Stop()
		keys = append(keys, k)
	}
	f.mu.Unlock()
	for _, k := range keys {
		f.summarize(k)
	}
}
