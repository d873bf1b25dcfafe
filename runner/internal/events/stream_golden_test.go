package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clemhq/clem/shared/testutil/golden"
)

// TestStreamGolden pins what each runtime's parser makes of a recorded
// stream (shared/agentstream/testdata/<runtime>-*.jsonl): the Summary
// after every line, in testdata/<stream>.golden, so the line at which
// Answered (the runner acks the inbox) and Final first hold is pinned too.
// Refresh with -update and review the diff.
func TestStreamGolden(t *testing.T) {
	streams := golden.RepoPath(t, "shared/agentstream/testdata")
	runtimes := map[string]string{"claude": "claude-code", "codex": "codex", "opencode": "opencode"}
	for _, file := range golden.Fixtures(t, filepath.Join(streams, "*.jsonl")) {
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
			golden.Check(t, filepath.Join("testdata", name+".golden"), out.Bytes())
		})
	}
}
