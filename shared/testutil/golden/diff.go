package golden

import (
	"fmt"
	"strings"
)

const (
	// diffContext is how many equal lines stand around the change.
	diffContext = 3
	// diffShown caps the removed and the added lines shown: the start of a
	// change says what changed; the rest is in the files.
	diffShown = 30
)

// unified is a unified diff of a and b in one hunk, from their first to
// their last differing line: not minimal, but what a reader needs to see
// what changed, with no dependency.
func unified(aName, bName string, a, b []byte) string {
	x, y := lines(a), lines(b)
	p := 0
	for p < len(x) && p < len(y) && x[p] == y[p] {
		p++
	}
	if p == len(x) && p == len(y) {
		return ""
	}
	s := 0
	for s < len(x)-p && s < len(y)-p && x[len(x)-1-s] == y[len(y)-1-s] {
		s++
	}
	start := max(p-diffContext, 0)
	xEnd, yEnd := min(len(x)-s+diffContext, len(x)), min(len(y)-s+diffContext, len(y))

	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n@@ -%s +%s @@\n", aName, bName, span(start, xEnd), span(start, yEnd))
	emit(&out, ' ', x[start:p], len(x[start:p]))
	emit(&out, '-', x[p:len(x)-s], diffShown)
	emit(&out, '+', y[p:len(y)-s], diffShown)
	emit(&out, ' ', x[len(x)-s:xEnd], diffContext)
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

// emit writes up to limit of ls, each after prefix, and says how many it
// left out.
func emit(out *strings.Builder, prefix byte, ls []string, limit int) {
	for i, l := range ls {
		if i == limit {
			fmt.Fprintf(out, "%c... %d more lines\n", prefix, len(ls)-limit)
			return
		}
		out.WriteByte(prefix)
		out.WriteString(strings.TrimSuffix(l, "\n"))
		out.WriteByte('\n')
		if !strings.HasSuffix(l, "\n") {
			out.WriteString("\\ No newline at end of file\n")
		}
	}
}

// span is a hunk's range of lines [start, end) (0-based) as a unified
// diff writes it: the first line's 1-based number and the count.
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
