package benchkit

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// MaxOthers is how much of a core other tasks may use during a run before
// the report says the run was disturbed.
const MaxOthers = 0.10

// Disturbed is a note when something besides the bench and its daemons
// took more than MaxOthers of a core during a run, which skews that run's
// numbers; "" otherwise.
func Disturbed(scenario, path string, others float64) string {
	if others <= MaxOthers {
		return ""
	}
	return fmt.Sprintf("%s %s: other tasks (or the hypervisor) took %.0f%% of a core during the run; rerun on a quiet machine",
		scenario, path, 100*others)
}

// ErrorNotes are the notes on the errors of a direct run (res[0]) and a
// run via the daemons (res[1], path name via), and whether either failed.
func ErrorNotes(name, via string, res [2]Result) (notes []string, failed bool) {
	for i, p := range []string{"direct", via} {
		switch {
		case res[i].Failed():
			failed = true
			notes = append(notes, fmt.Sprintf("%s %s: run failed, %d of %d requests failed (%.1f%%); first error: %s",
				name, p, res[i].Errs, res[i].OK+res[i].Errs, 100*res[i].ErrRate(), res[i].FirstErr))
		case res[i].Errs > 0:
			notes = append(notes, fmt.Sprintf("%s %s: %d errors (under 1%%); first: %s", name, p, res[i].Errs, res[i].FirstErr))
		}
	}
	return notes, failed
}

// Verdict is a row's result column.
func Verdict(failed, pass bool) string {
	switch {
	case failed:
		return "FAIL (errors)"
	case pass:
		return "PASS"
	default:
		return "FAIL"
	}
}

// Row is one line of a result table.
type Row struct {
	Name, Direct, Via, Ratio, Target, Verdict string
	Value                                     float64 // for the summary line; NaN when not measured
}

// PrintTable writes rows under a header whose third column is via, then
// each note.
func PrintTable(out io.Writer, via string, rows []Row, notes []string) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\tdirect\t%s\tratio\ttarget\tresult\n", via)
	for _, w := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", w.Name, w.Direct, w.Via, w.Ratio, w.Target, w.Verdict)
	}
	tw.Flush()
	for _, n := range notes {
		fmt.Fprintln(out, "  note:", n)
	}
}
