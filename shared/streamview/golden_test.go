package streamview

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clemhq/clem/shared/testutil/golden"
)

// TestRenderGolden pins what the pane and `clem logs` show for the
// recorded streams (shared/agentstream/testdata/*.jsonl), each line
// rendered for every runtime ("" is how the pane renders stderr), in
// testdata/<stream>.golden. Refresh with -update and review the diff.
func TestRenderGolden(t *testing.T) {
	streams := golden.RepoPath(t, "shared/agentstream/testdata")
	for _, file := range golden.Fixtures(t, filepath.Join(streams, "*.jsonl")) {
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
			golden.Check(t, filepath.Join("testdata", name+".golden"), out.Bytes())
		})
	}
}
