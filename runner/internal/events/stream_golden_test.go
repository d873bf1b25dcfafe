package events

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the parsers' output")

// TestStreamGolden pins what each runtime's parser makes of a recorded
// stream (testdata/<runtime>-*.jsonl): the Summary after every line, so
// the line at which Answered (the runner acks the inbox) and Final first
// hold is pinned too. Refresh with -update and review the diff.
func TestStreamGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in testdata: %v", err)
	}
	runtimes := map[string]string{"claude": "claude-code", "codex": "codex", "opencode": "opencode"}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".jsonl")
		t.Run(name, func(t *testing.T) {
			runtime := runtimes[strings.SplitN(name, "-", 2)[0]]
			if runtime == "" {
				t.Fatalf("fixture %s: name it <claude|codex|opencode>-*.jsonl", file)
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			p := New(runtime)
			for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
				p.Line(line)
				s, err := json.Marshal(p.Summary())
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&out, "%d %s\n", i+1, s)
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
				t.Errorf("%s: Summary after each line:\n%s\nwant\n%s", file, out.Bytes(), want)
			}
		})
	}
}
