package relay

import (
	"fmt"
	"sync"
	"time"

	"github.com/clemhq/clem/shared/audit"
)

// FloodWindow is how long one caller's run of refusals of one kind is
// summarised before a new run starts with a record of its own.
const FloodWindow = time.Minute

// floodLog audits refusals once per flood, not once per request: the first
// refusal of a caller for one rule is written at once, the rest within
// FloodWindow are counted, and one summary record (the first's fields,
// Count = how many more, Reason saying since when) is written when the
// window ends or at Close. A flood therefore costs the audit log two lines a
// minute, and its first refusal is always there.
type floodLog struct {
	write  func(*audit.Record)
	window time.Duration

	mu   sync.Mutex
	open map[floodKey]*floodRun
}

// floodKey is who is refused and by which rule. uid is the kernel's.
type floodKey struct {
	uid   uint32
	known bool
	rule  string
}

type floodRun struct {
	first audit.Record
	more  int64
	timer *time.Timer
}

func newFloodLog(write func(*audit.Record), window time.Duration) *floodLog {
	return &floodLog{write: write, window: window, open: map[floodKey]*floodRun{}}
}

// refused records one refusal. rec must carry Rule; it is written only when
// it starts a run.
func (f *floodLog) refused(rec *audit.Record) {
	k := floodKey{rule: rec.Rule}
	if rec.UID != nil {
		k.uid, k.known = *rec.UID, true
	}
	f.mu.Lock()
	if run := f.open[k]; run != nil {
		run.more++
		f.mu.Unlock()
		return
	}
	run := &floodRun{first: *rec}
	f.open[k] = run
	run.timer = time.AfterFunc(f.window, func() { f.end(k, run) })
	f.mu.Unlock()
	f.write(rec)
}

// end closes k's run if it is still run, writing its summary.
func (f *floodLog) end(k floodKey, run *floodRun) {
	f.mu.Lock()
	if f.open[k] != run {
		f.mu.Unlock()
		return
	}
	delete(f.open, k)
	f.mu.Unlock()
	f.summarise(run)
}

// Close writes the summary of every open run.
func (f *floodLog) Close() {
	f.mu.Lock()
	runs := f.open
	f.open = map[floodKey]*floodRun{}
	f.mu.Unlock()
	for _, run := range runs {
		run.timer.Stop()
		f.summarise(run)
	}
}

func (f *floodLog) summarise(run *floodRun) {
	if run.more == 0 {
		return
	}
	r := run.first
	r.Time, r.ConnID = time.Now(), ""
	r.Count = run.more
	r.DurationMS = audit.Millis(r.Time.Sub(run.first.Time))
	r.Reason = fmt.Sprintf("%d more refused by %s since %s (the first: %s)", run.more, r.Rule, run.first.Time.UTC().Format(audit.TimeFormat), run.first.Reason)
	f.write(&r)
}
