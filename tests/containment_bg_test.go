package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// bgProbe is a probe that keeps running while the test does something
// else: a listener waiting for a peer, a flood holding connections.
type bgProbe struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	Ready string // the rest of its ready line
	done  bool
}

// start runs p as the named user and returns once it printed its ready
// line (or ended without one: then Ready is "" and finish says why).
func (cm *containment) start(t *testing.T, name string, p probe) *bgProbe {
	t.Helper()
	cmd := cm.probeCmd(t, name, p)
	return startProbe(t, cmd)
}

func startProbe(t *testing.T, cmd *exec.Cmd) *bgProbe {
	t.Helper()
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &bgProbe{cmd: cmd, stdin: stdin, out: bufio.NewReaderSize(stdout, 1<<20)}
	t.Cleanup(func() { b.finish() })
	line, err := b.out.ReadString('\n')
	if rest, ok := strings.CutPrefix(line, readyLine); ok && err == nil {
		b.Ready = strings.TrimSpace(rest)
		if b.Ready == "" {
			b.Ready = "ready"
		}
		return b
	}
	// It ended (or printed its outcome) without getting ready: keep the
	// line for finish.
	b.out = bufio.NewReader(io.MultiReader(strings.NewReader(line), b.out))
	return b
}

// finish tells the probe to stop (closes its input) and returns its
// outcome.
func (b *bgProbe) finish() outcome {
	if b.done {
		return outcome{Err: "finished twice"}
	}
	b.done = true
	b.stdin.Close()
	data, _ := io.ReadAll(b.out)
	err := b.cmd.Wait()
	var o outcome
	if jerr := json.Unmarshal(data, &o); jerr != nil {
		return outcome{Err: fmt.Sprintf("probe process: %v %v: %s", err, jerr, data)}
	}
	return o
}
