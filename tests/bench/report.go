package main

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/clemhq/clem/tests/benchkit"
)

// report collects the rows in the order they are measured.
type report struct {
	rows     []benchkit.Row
	notes    []string // on the rows' errors, in row order
	warnings []string // on disturbed runs
}

// disturbed warns when something besides the bench and pipelock took CPU
// time during a run, which skews that run's numbers.
func (r *report) disturbed(scenario, path string, u usage) {
	if n := benchkit.Disturbed(scenario, path, u.others); n != "" {
		r.warnings = append(r.warnings, n)
	}
}

// ratio adds a comparison row: value(res[1]) / value(res[0]), which passes
// when it reaches minRatio and neither run failed.
func (r *report) ratio(name string, res [2]result, unit string, value func(result) float64, minRatio float64) {
	d, v := value(res[0]), value(res[1])
	w := benchkit.Row{
		Name:   name,
		Direct: fmt.Sprintf("%.1f %s", d, unit),
		Via:    fmt.Sprintf("%.1f %s", v, unit),
		Target: fmt.Sprintf(">= %.2f", minRatio),
		Value:  v / d,
	}
	if d == 0 {
		w.Value = math.NaN()
	}
	w.Ratio = fmt.Sprintf("%.2f", w.Value)
	notes, failed := benchkit.ErrorNotes(name, "pipelock", res)
	r.notes = append(r.notes, notes...)
	w.Verdict = benchkit.Verdict(failed, w.Value >= minRatio)
	r.rows = append(r.rows, w)
}

// limit adds a row for a number that must stay at or under max; err means
// it could not be measured.
func (r *report) limit(name, direct, via string, value, max float64, err error) {
	w := benchkit.Row{Name: name, Direct: direct, Via: via, Ratio: "-", Target: fmt.Sprintf("<= %g", max), Value: value}
	switch {
	case err != nil:
		w.Value, w.Verdict = math.NaN(), "FAIL (not measured)"
		r.notes = append(r.notes, fmt.Sprintf("%s: %v", name, err))
	case value <= max:
		w.Verdict = "PASS"
	default:
		w.Verdict = "FAIL"
	}
	if w.Direct == "" {
		w.Direct = "-"
	}
	if w.Via == "" {
		w.Via = "-"
	}
	r.rows = append(r.rows, w)
}

// print writes the table, the notes, and the summary line last.
func (r *report) print(out io.Writer) {
	benchkit.PrintTable(out, "via pipelock", r.rows, append(r.notes, r.warnings...))
	var summary []string
	for _, w := range r.rows {
		format := "%s=%.1f"
		if w.Ratio != "-" {
			format = "%s=%.2f"
		}
		summary = append(summary, fmt.Sprintf(format, w.Name, w.Value))
	}
	fmt.Fprintln(out, "bench pipelock: "+strings.Join(summary, " "))
}
