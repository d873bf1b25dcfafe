package main

import (
	"fmt"
	"io"
	"math"

	"github.com/clemhq/clem/tests/benchkit"
)

// Targets.
const (
	keepaliveMinRatio = 0.40
	maxAddedP50MS     = 1.0
	uploadMinRatio    = 0.80
)

// report collects rows, notes and the summary values of one placement.
type report struct {
	rows  []benchkit.Row
	notes []string
}

// disturbed notes a run during which other tasks took CPU time.
func (r *report) disturbed(scenario, path string, u usage) {
	if n := benchkit.Disturbed(scenario, path, u.others); n != "" {
		r.notes = append(r.notes, n)
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
	r.rows = append(r.rows, benchkit.Row{
		Name: name, Direct: fmt.Sprintf("%.1f %s", d, unit), Via: fmt.Sprintf("%.1f %s", b, unit),
		Ratio: fmt.Sprintf("%.2f", v), Target: fmt.Sprintf(">= %.2f", minRatio),
		Verdict: verdict(failed, v >= minRatio), Value: v,
	})
}

// added adds the latency row: brokered p50 minus direct p50, in ms.
func (r *report) added(name string, res [2]result) {
	v := res[1].P50() - res[0].P50()
	if res[0].OK == 0 || res[1].OK == 0 {
		v = math.NaN()
	}
	failed := r.errorsNote(name, res)
	r.rows = append(r.rows, benchkit.Row{
		Name:   name,
		Direct: fmt.Sprintf("%.3f ms p50 (p99 %.3f)", res[0].P50(), res[0].P99()),
		Via:    fmt.Sprintf("%.3f ms p50 (p99 %.3f)", res[1].P50(), res[1].P99()),
		Ratio:  fmt.Sprintf("%+.2f ms", v), Target: fmt.Sprintf("<= %.2f ms", maxAddedP50MS),
		Verdict: verdict(failed, v <= maxAddedP50MS), Value: v,
	})
}

// passed says every row passed.
func (r *report) passed() bool {
	for _, w := range r.rows {
		if w.Verdict != "PASS" {
			return false
		}
	}
	return true
}

// summary is the machine-readable line without its prefix.
func (r *report) summary() string {
	v := map[string]float64{"keepalive": math.NaN(), "added_p50_ms": math.NaN(), "upload": math.NaN()}
	for _, w := range r.rows {
		v[w.Name] = w.Value
	}
	return fmt.Sprintf("keepalive=%.2f added_p50_ms=%.2f upload=%.2f", v["keepalive"], v["added_p50_ms"], v["upload"])
}

// print writes the table and the notes.
func (r *report) print(out io.Writer) { benchkit.PrintTable(out, "brokered", r.rows, r.notes) }
