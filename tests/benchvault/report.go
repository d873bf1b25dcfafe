package main

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"

	"github.com/clemhq/clem/tests/benchkit"
)

// Targets.
const (
	keepaliveMinRatio = 0.40
	maxAddedP50MS     = 1.0
	uploadMinRatio    = 0.80
)

// maxOthers is how much of a core other tasks may take during a run before
// the report says the run was disturbed.
const maxOthers = 0.10

// row is one line of the result table.
type row struct {
	name, direct, brokered, ratio, target, verdict string
	value                                          float64 // for the summary line; NaN when not measured
}

// report collects rows, notes and the summary values of one placement.
type report struct {
	rows  []row
	notes []string
}

func (r *report) disturbed(scenario, path string, u usage) {
	if u.others > maxOthers {
		r.notes = append(r.notes, fmt.Sprintf("%s %s: other tasks (or the hypervisor) took %.0f%% of a core; rerun on a quiet machine",
			scenario, path, 100*u.others))
	}
}

// errorsNote adds the error notes of both runs and says whether either
// run failed.
func (r *report) errorsNote(name string, res [2]result) bool {
	notes, failed := benchkit.ErrorNotes(name, "brokered", res)
	r.notes = append(r.notes, notes...)
	return failed
}

var verdict = benchkit.Verdict

// ratio adds a row value(brokered) / value(direct) that passes at minRatio.
func (r *report) ratio(name string, res [2]result, unit string, value func(result) float64, minRatio float64) {
	d, b := value(res[0]), value(res[1])
	v := b / d
	if d == 0 || res[0].OK == 0 || res[1].OK == 0 {
		v = math.NaN()
	}
	failed := r.errorsNote(name, res)
	r.rows = append(r.rows, row{
		name: name, direct: fmt.Sprintf("%.1f %s", d, unit), brokered: fmt.Sprintf("%.1f %s", b, unit),
		ratio: fmt.Sprintf("%.2f", v), target: fmt.Sprintf(">= %.2f", minRatio),
		verdict: verdict(failed, v >= minRatio), value: v,
	})
}

// added adds the latency row: brokered p50 minus direct p50, in ms.
func (r *report) added(name string, res [2]result) {
	v := res[1].P50() - res[0].P50()
	if res[0].OK == 0 || res[1].OK == 0 {
		v = math.NaN()
	}
	failed := r.errorsNote(name, res)
	r.rows = append(r.rows, row{
		name:     name,
		direct:   fmt.Sprintf("%.3f ms p50 (p99 %.3f)", res[0].P50(), res[0].P99()),
		brokered: fmt.Sprintf("%.3f ms p50 (p99 %.3f)", res[1].P50(), res[1].P99()),
		ratio:    fmt.Sprintf("%+.2f ms", v), target: fmt.Sprintf("<= %.2f ms", maxAddedP50MS),
		verdict: verdict(failed, v <= maxAddedP50MS), value: v,
	})
}

// passed says every row passed.
func (r *report) passed() bool {
	for _, w := range r.rows {
		if w.verdict != "PASS" {
			return false
		}
	}
	return true
}

// summary is the machine-readable line without its prefix.
func (r *report) summary() string {
	v := map[string]float64{"keepalive": math.NaN(), "added_p50_ms": math.NaN(), "upload": math.NaN()}
	for _, w := range r.rows {
		v[w.name] = w.value
	}
	return fmt.Sprintf("keepalive=%.2f added_p50_ms=%.2f upload=%.2f", v["keepalive"], v["added_p50_ms"], v["upload"])
}

// print writes the table and the notes.
func (r *report) print(out io.Writer) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tdirect\tbrokered\tratio\ttarget\tresult")
	for _, w := range r.rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", w.name, w.direct, w.brokered, w.ratio, w.target, w.verdict)
	}
	tw.Flush()
	for _, n := range r.notes {
		fmt.Fprintln(out, "  note:", n)
	}
}
