package daemon

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/clemhq/clem/shared/runstate"
)

// View is `runner view`, the first window of the agent's tmux session: one
// line each time the runner's state changes.
func View(ctx context.Context, stateDir string, out io.Writer) error {
	fmt.Fprintf(out, "clem runner: state of %s (iterations open their own windows)\n", stateDir)
	var last string
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		line := "no state file yet"
		if st, err := runstate.Read(runstate.StatePath(stateDir)); err == nil {
			line = StatusLine(st, time.Now(), time.Local)
			if st.Phase == runstate.Running && st.Current != nil {
				line = fmt.Sprintf("iteration %d running", st.Current.Iteration)
			}
		}
		if line != last {
			fmt.Fprintf(out, "%s  %s\n", time.Now().Format("15:04:05"), line)
			last = line
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
