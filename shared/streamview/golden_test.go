package streamview

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from Render's output")

// TestRenderGolden pins what the pane and `clem logs` show for recorded
// streams (testdata/*.jsonl), each line rendered for every runtime (""
// is how the pane renders stderr). Refresh with -update and review the
// diff.
func TestRenderGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in testdata: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".jsonl")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
			var out bytes.Buffer
			for _, rt := range []string{"claude-code", "codex", "opencode", ""} {
				fmt.Fprintf(&out, "== runtime %q\n", rt)
				for i, line := range lines {
					fmt.Fprintf(&out, "%d %q\n", i+1, Render(rt, line))
				}
			}
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if string(want) != out.String() {
				t.Errorf("%s: Render of each line:\n%s\nwant\n%s", file, out.Bytes(), want)
			}
		})
	}
}
