package ghpolicy

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/clemhq/clem/shared/testutil/golden"
)

// opsTable is the operations table of docs/github.md, from Ops.
func opsTable() string {
	var b strings.Builder
	b.WriteString("| operation | level | what it covers |\n|---|---|---|\n")
	for _, op := range Ops {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", op.Name, op.Level, op.Doc)
	}
	return b.String()
}

// TestDocsListOps: docs/github.md's operations table is exactly Ops, so
// what operators read is what agent-vault enforces. The table is pinned in
// testdata/ops.md.golden (-update rewrites it); the doc must carry it
// between its ops markers.
func TestDocsListOps(t *testing.T) {
	table := opsTable()
	golden.Check(t, "testdata/ops.md.golden", []byte(table))
	doc := golden.RepoPath(t, "docs/github.md")
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok1 := strings.Cut(string(b), "<!-- ops:begin")
	_, rest, ok2 := strings.Cut(rest, "-->\n")
	body, _, ok3 := strings.Cut(rest, "<!-- ops:end -->")
	if !ok1 || !ok2 || !ok3 {
		t.Fatalf("%s has no <!-- ops:begin ... --> ... <!-- ops:end --> block", doc)
	}
	if body != table {
		t.Errorf("%s's operations table is not Ops; put testdata/ops.md.golden between its ops markers", doc)
	}
}
