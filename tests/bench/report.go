package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/clemhq/clem/tests/benchkit"
)

// row is one line of the result table.
type row struct {
	name, direct, via, ratio, target, verdict string
	value                                     float64 // for the summary line; NaN when not measured
	notes                                     []string
}

// report collects the rows in the order they are measured.
type report struct {
	rows     []row
	warnings []string
}

// maxOthers is how much of a core other tasks may use during a run before
// the report says the run was disturbed.
const maxOthers = 0.10

// disturbed warns when something besides the bench and pipelock took CPU
// time during a run, which skews that run's numbers.
func (r *report) disturbed(scenario, path string, u usage) {
	if u.others > maxOthers {
		r.warnings = append(r.warnings, fmt.Sprintf("%s %s: other tasks (or the hypervisor) took %.0f%% of a core during the run; rerun on a quiet machine",
			scenario, path, 100*u.others))
	}
}

// ratio adds a comparison row: value(res[1]) / value(res[0]), which passes
// when it reaches minRatio and neither run failed.
func (r *report) ratio(name string, res [2]result, unit string, value func(result) float64, minRatio float64) {
	d, v := value(res[0]), value(res[1])
	w := row{
		name:   name,
		direct: fmt.Sprintf("%.1f %s", d, unit),
		via:    fmt.Sprintf("%.1f %s", v, unit),
		target: fmt.Sprintf(">= %.2f", minRatio),
		value:  v / d,
	}
	if d == 0 {
		w.value = math.NaN()
	}
	w.ratio = fmt.Sprintf("%.2f", w.value)
	notes, failed := benchkit.ErrorNotes(name, "pipelock", res)
	w.notes = append(w.notes, notes...)
	w.verdict = benchkit.Verdict(failed, w.value >= minRatio)
	r.rows = append(r.rows, w)
}

// limit adds a row for a number that must stay at or under max; err means
// it could not be measured.
func (r *report) limit(name, direct, via string, value, max float64, err error) {
	w := row{name: name, direct: direct, via: via, ratio: "-", target: fmt.Sprintf("<= %g", max), value: value}
	switch {
	case err != nil:
		w.value, w.verdict = math.NaN(), "FAIL (not measured)"
		w.notes = append(w.notes, fmt.Sprintf("%s: %v", name, err))
	case value <= max:
		w.verdict = "PASS"
	default:
		w.verdict = "FAIL"
	}
	if w.direct == "" {
		w.direct = "-"
	}
	if w.via == "" {
		w.via = "-"
	}
	r.rows = append(r.rows, w)
}

// print writes the table, the notes, and the summary line last.
func (r *report) print(out io.Writer) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tdirect\tvia pipelock\tratio\ttarget\tresult")
	var notes, summary []string
	for _, w := range r.rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", w.name, w.direct, w.via, w.ratio, w.target, w.verdict)
		notes = append(notes, w.notes...)
		format := "%s=%.1f"
		if w.ratio != "-" {
			format = "%s=%.2f"
		}
		summary = append(summary, fmt.Sprintf(format, w.name, w.value))
	}
	tw.Flush()
	for _, n := range append(notes, r.warnings...) {
		fmt.Fprintln(out, "  note:", n)
	}
	fmt.Fprintln(out, "bench pipelock: "+strings.Join(summary, " "))
}
