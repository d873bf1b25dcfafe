package tests

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
)

// The attack matrix has two parts that run in one test process: the
// kernel-and-daemons matrix (TestContainment, probes as an agent's uid
// beside daemons started as their users) and the in-unit attempts made
// inside a running agent's systemd unit of the fleet that TestSystemFleet
// boots (so the matrix shares the system test's boot). Each part records
// its rows here; the report is printed once both are done.
var matrix struct {
	sync.Mutex
	parts []matrixPart
}

type matrixPart struct {
	name string
	rows []*attempt
}

// minAttempts is how many attempts the whole matrix must have.
const minAttempts = 50

// recordMatrix adds a part's rows to the report and fails t for every
// attempt that did not hold.
func recordMatrix(t *testing.T, part string, rows []*attempt) {
	t.Helper()
	for i, a := range rows {
		if !a.held {
			t.Errorf("%s attempt %d %q: expected %s, got %s", part, i+1, a.name, a.expected, a.got)
		}
	}
	matrix.Lock()
	matrix.parts = append(matrix.parts, matrixPart{part, rows})
	matrix.Unlock()
	t.Logf("%s:\n%s", part, formatRows(rows, 0))
}

func formatRows(rows []*attempt, first int) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for i, a := range rows {
		res := "HELD"
		if !a.held {
			res = "BROKEN"
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", first+i+1, a.name, a.expected, a.got, res)
	}
	w.Flush()
	return b.String()
}

// writeMatrixReport prints the whole matrix with its summary line (and
// writes it to $CLEM_CONTAINMENT_REPORT for make test-containment). It
// returns false when the matrix is too small or a part is missing: with
// both parts run, fewer than minAttempts rows is a failure of its own.
func writeMatrixReport() bool {
	matrix.Lock()
	defer matrix.Unlock()
	if len(matrix.parts) == 0 {
		return true
	}
	var b strings.Builder
	fmt.Fprintln(&b, "#\tattempt\texpected\tgot\tresult")
	held, total := 0, 0
	for _, p := range matrix.parts {
		fmt.Fprintf(&b, "-- %s\n", p.name)
		b.WriteString(formatRows(p.rows, total))
		for _, a := range p.rows {
			if a.held {
				held++
			}
		}
		total += len(p.rows)
	}
	fmt.Fprintf(&b, "containment: %d/%d attempts held\n", held, total)
	ok := true
	if len(matrix.parts) == 2 && total < minAttempts {
		fmt.Fprintf(&b, "containment: the matrix has %d attempts, want at least %d\n", total, minAttempts)
		ok = false
	}
	if p := os.Getenv("CLEM_CONTAINMENT_REPORT"); p != "" {
		os.WriteFile(p, []byte(b.String()), 0o644)
	}
	return ok
}
