package golden

import (
	"fmt"
	"strings"
)

const (
	// diffContext is how many equal lines stand around each change.
	diffContext = 3
	// diffShown caps the lines of hunks a diff shows: its start says what
	// changed, and the rest is in the files.
	diffShown = 60
	// diffRun caps the lines shown of one run of removed or added lines.
	diffRun = 20
	// diffCells caps the work of a minimal diff (lines of one side times
	// lines of the other, past their common start and end); beyond it the
	// differing middle shows as removed, then added.
	diffCells = 1 << 22
)

// edit is a line of a diff: ' ' kept, '-' removed, '+' added.
type edit struct {
	op   byte
	line string // with its newline, if it has one
}

// unified is a unified diff from a to b, with diffContext lines of
// context, cut after diffShown lines.
func unified(aName, bName string, a, b []byte) string {
	es := edits(lines(a), lines(b))
	// xAt[k] and yAt[k]: lines of a and of b before es[k].
	xAt, yAt := make([]int, len(es)+1), make([]int, len(es)+1)
	var changes []int
	for k, e := range es {
		xAt[k+1], yAt[k+1] = xAt[k], yAt[k]
		if e.op != '+' {
			xAt[k+1]++
		}
		if e.op != '-' {
			yAt[k+1]++
		}
		if e.op != ' ' {
			changes = append(changes, k)
		}
	}
	if len(changes) == 0 {
		return ""
	}
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", aName, bName)
	shown := 0
	for c := 0; c < len(changes); {
		// A hunk runs on while the next change is near enough that their
		// contexts would touch.
		last := c
		for last+1 < len(changes) && changes[last+1]-changes[last] <= 2*diffContext+1 {
			last++
		}
		lo, hi := max(changes[c]-diffContext, 0), min(changes[last]+diffContext+1, len(es))
		if shown >= diffShown-1 {
			out.WriteString("... (the diff goes on)\n")
			return out.String()
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", span(xAt[lo], xAt[hi]), span(yAt[lo], yAt[hi]))
		shown++
		for k := lo; k < hi; {
			// A long run of removed or added lines shows its start, so
			// both sides of a replaced block are seen.
			run := k + 1
			for run < hi && es[run].op == es[k].op {
				run++
			}
			limit := run
			if es[k].op != ' ' {
				limit = min(run, k+diffRun)
			}
			for _, e := range es[k:limit] {
				if shown == diffShown {
					out.WriteString("... (the diff goes on)\n")
					return out.String()
				}
				out.WriteByte(e.op)
				out.WriteString(strings.TrimSuffix(e.line, "\n"))
				out.WriteByte('\n')
				if !strings.HasSuffix(e.line, "\n") {
					out.WriteString("\\ No newline at end of file\n")
				}
				shown++
			}
			if limit < run {
				fmt.Fprintf(&out, "%c... %d more lines\n", es[k].op, run-limit)
			}
			k = run
		}
		c = last + 1
	}
	return out.String()
}

// lines splits b after each newline; the last line may lack one.
func lines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	ls := strings.SplitAfter(string(b), "\n")
	if ls[len(ls)-1] == "" {
		ls = ls[:len(ls)-1]
	}
	return ls
}

// edits turns x into y keeping a longest common subsequence of lines.
func edits(x, y []string) []edit {
	p := 0
	for p < len(x) && p < len(y) && x[p] == y[p] {
		p++
	}
	s := 0
	for s < len(x)-p && s < len(y)-p && x[len(x)-1-s] == y[len(y)-1-s] {
		s++
	}
	var es []edit
	for _, l := range x[:p] {
		es = append(es, edit{' ', l})
	}
	es = append(es, middle(x[p:len(x)-s], y[p:len(y)-s])...)
	for _, l := range x[len(x)-s:] {
		es = append(es, edit{' ', l})
	}
	return es
}

// middle is edits for what lies between the common start and end: the
// textbook dynamic programme, affordable at golden files' sizes.
func middle(x, y []string) []edit {
	n, m := len(x), len(y)
	var es []edit
	if n*m > diffCells {
		for _, l := range x {
			es = append(es, edit{'-', l})
		}
		for _, l := range y {
			es = append(es, edit{'+', l})
		}
		return es
	}
	// lcs[i*(m+1)+j] is the length of a longest common subsequence of
	// x[i:] and y[j:].
	lcs := make([]int32, (n+1)*(m+1))
	at := func(i, j int) int32 { return lcs[i*(m+1)+j] }
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i*(m+1)+j] = at(i+1, j+1) + 1
			} else {
				lcs[i*(m+1)+j] = max(at(i+1, j), at(i, j+1))
			}
		}
	}
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case x[i] == y[j]:
			es = append(es, edit{' ', x[i]})
			i, j = i+1, j+1
		case at(i+1, j) >= at(i, j+1):
			es = append(es, edit{'-', x[i]})
			i++
		default:
			es = append(es, edit{'+', y[j]})
			j++
		}
	}
	for ; i < n; i++ {
		es = append(es, edit{'-', x[i]})
	}
	for ; j < m; j++ {
		es = append(es, edit{'+', y[j]})
	}
	return es
}

// span is a hunk's lines [start, end) (0-based) as a unified diff writes
// them: the first line's 1-based number and the count.
func span(start, end int) string {
	switch n := end - start; n {
	case 0:
		return fmt.Sprintf("%d,0", start)
	case 1:
		return fmt.Sprint(start + 1)
	default:
		return fmt.Sprintf("%d,%d", start+1, n)
	}
}
