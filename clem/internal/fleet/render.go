package fleet

import (
	"bufio"
	"fmt"
	"io"

	"github.com/clemhq/clem/shared/streamview"
)

// Render writes a transcript (one stream line per line, as the runner
// recorded it) the way the agent's tmux pane shows it: the model's text,
// each tool call and its result, the final result with turns and cost,
// control characters removed.
func Render(w io.Writer, r io.Reader, runtime string) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		if s := streamview.Render(runtime, sc.Bytes()); s != "" {
			if _, err := fmt.Fprintln(w, s); err != nil {
				return err
			}
		}
	}
	return sc.Err()
}
